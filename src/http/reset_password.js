(() => {
  const form = document.getElementById('reset');
  const out = document.getElementById('outcome');
  // The page's texts, in its language.
  const say = document.body.dataset;
  const params = new URLSearchParams(window.location.search);
  const uid = params.get('uid'), token = params.get('token');
  const show = (ok, text) => { out.textContent = text; out.className = ok ? 'ok' : 'error'; };
  if (!uid || !token) { form.hidden = true; show(false, say.incomplete); return; }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const newPassword = document.getElementById('password').value;
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'accept': 'application/json' },
        body: JSON.stringify({
          documentId: document.body.dataset.documentId,
          variables: { uid, token, p: newPassword },
        }),
      });
      const body = await res.json();
      if (body.errors && body.errors.length) { show(false, body.errors[0].message); return; }
      form.hidden = true;
      show(true, say.done);
    } catch (e) {
      show(false, say.unreachable);
    }
  });
})();
