"""The Store: one object with intent-named methods, the only code that talks to the database."""

from __future__ import annotations

from . import migrate
from .alerts import AlertsStore
from .articles import ArticlesStore
from .coverage import CoverageStore
from .labels import LabelsStore
from .pages import PagesStore
from .quarantine import QuarantineStore
from .runs import RunsStore
from .search import SearchStore
from .service import ServiceStore
from .sources import SourcesStore
from .users import UsersStore
from .workspace import WorkspaceStore


class Store(
    SourcesStore,
    ArticlesStore,
    PagesStore,
    AlertsStore,
    LabelsStore,
    RunsStore,
    UsersStore,
    WorkspaceStore,
    SearchStore,
    CoverageStore,
    QuarantineStore,
    ServiceStore,
):
    """Open a database by URL. ``Store.open`` also brings its schema up to date."""

    @classmethod
    def open(cls, url: str, upgrade: bool = True) -> Store:
        store = cls(url)
        if upgrade:
            store.upgrade()
        return store

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def schema_revision(self) -> str | None:
        return migrate.current_revision(self.engine)
