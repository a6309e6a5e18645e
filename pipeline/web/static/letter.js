// Letter editor: count words as the responder types (the server's check, via htmx, follows), and
// flag the send area when the letter changed since it was saved (the mail link uses the saved text).
(() => {
  const body = document.getElementById("letter-body");
  if (!body) return;
  const words = /[\p{L}\p{N}_]+(?:['’-][\p{L}\p{N}_]+)*/gu;
  const limit = parseInt(body.dataset.limit || "", 10);
  const saved = body.value;
  const update = () => {
    const count = (body.value.match(words) || []).length;
    const shown = document.getElementById("word-count");
    if (shown) {
      shown.textContent = String(count);
      const line = shown.closest(".lc-words");
      if (line && limit) line.classList.toggle("lc-over", count > limit);
    }
    const ready = document.getElementById("send-ready");
    if (ready) {
      const stale = body.value !== saved;
      ready.classList.toggle("rp-is-stale", stale);
      const note = ready.querySelector(".rp-stale");
      if (note) note.hidden = !stale;
    }
  };
  body.addEventListener("input", update);
  document.body.addEventListener("htmx:afterSwap", update);
})();
