"""The web app's words in French. Templates write English inside ``_("...")``; a user whose
language is French sees the entry below, and any string missing here stays in English."""

from __future__ import annotations

from collections.abc import Callable

FR: dict[str, str] = {
    "Alert queue": "File des alertes",
    "My claims": "Mes alertes",
    "Triage": "Tri",
    "Sources": "Sources",
    "Users": "Utilisateurs",
    "Account": "Compte",
    "Sign in": "Se connecter",
    "Sign out": "Se déconnecter",
    "Email": "Courriel",
    "Password": "Mot de passe",
    "Name": "Nom",
    "Language": "Langue",
    "Outlet": "Média",
    "Category": "Catégorie",
    "Status": "Statut",
    "Priority": "Priorité",
    "All": "Tous",
    "Filter": "Filtrer",
    "Complaint": "Plainte",
    "Thank-you": "Remerciement",
    "undated": "sans date",
    "priority": "priorité",
    "partial text": "texte partiel",
    "No alerts match these filters.": "Aucune alerte ne correspond à ces filtres.",
    "original article": "article original",
    "Evidence": "Éléments relevés",
    "Scores": "Scores",
    "Relevance": "Pertinence",
    "Suggested letter": "Lettre proposée",
    "Outcomes": "Résultats",
    "Versions": "Versions",
    "Article text": "Texte de l’article",
    "Wire story": "Dépêche d’agence",
    "Also published by": "Aussi publiée par",
    "Stored copies of the page": "Copies enregistrées de la page",
    "letters are sent by people, never by this app": "les lettres sont envoyées par des personnes, jamais par cette application",
    "Too many failed sign-ins. Wait a few minutes and try again.": "Trop d’échecs de connexion. Attendez quelques minutes et réessayez.",
    "Wrong email or password.": "Courriel ou mot de passe incorrect.",
    "Create your account": "Créez votre compte",
    "This invitation link is unknown, already used or expired. Ask an admin for a new one.": "Ce lien d’invitation est inconnu, déjà utilisé ou expiré. Demandez-en un nouveau à un administrateur.",
    "Save": "Enregistrer",
    "Saved.": "Enregistré.",
    "Notifications": "Notifications",
    "Daily digest by email": "Résumé quotidien par courriel",
    "Immediate email for urgent alerts": "Courriel immédiat pour les alertes urgentes",
    "Your Atom feed of open alerts": "Votre fil Atom des alertes ouvertes",
    "New feed link": "Nouveau lien de fil",
    "Keep this link private: anyone with it can read the open alerts.": "Gardez ce lien privé : quiconque le possède peut lire les alertes ouvertes.",
    "Page not found": "Page introuvable",
    "Not allowed": "Accès refusé",
    "Something is not right": "Quelque chose ne va pas",
    "Back to the alert queue": "Retour à la file des alertes",
    "Sources health": "État des sources",
    "new": "nouvelle",
    "open": "ouverte",
    "claimed": "réclamée",
    "sent": "envoyée",
    "closed": "fermée",
    "dismissed": "écartée",
    "merged": "fusionnée",
    "letters": "lettres",
    "of": "sur",
    "High": "Haute",
    "Medium and high": "Moyenne et haute",
    "More": "Suite",
}

CATALOGUES = {"fr": FR}


def translator(language: str) -> Callable[[str], str]:
    table = CATALOGUES.get(language, {})
    return lambda text: table.get(text, text)
