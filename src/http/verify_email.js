(() => {
  const out = document.getElementById('outcome');
  const button = document.getElementById('confirm');
  const warning = document.getElementById('warning');
  // The page's texts, in its language.
  const say = document.body.dataset;
  const params = new URLSearchParams(window.location.search);
  const uid = params.get('uid'), token = params.get('token');
  const show = (ok, text) => {
    out.textContent = text;
    out.className = ok ? 'ok' : 'error';
    document.getElementById('next').hidden = !ok;
  };
  if (!uid || !token) {
    button.hidden = true;
    show(false, say.incomplete);
    return;
  }
  // Nothing runs before a person presses Confirm: a mail scanner opening the link must not use
  // it up, and a link from someone else must not silently log this browser into their account.
  button.addEventListener('click', async () => {
    button.disabled = true;
    out.className = '';
    out.textContent = say.working;
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'accept': 'application/json' },
        body: JSON.stringify({
          documentId: document.body.dataset.documentId,
          variables: { uid, token },
        }),
      });
      const body = await res.json();
      if (body.errors && body.errors.length) { show(false, body.errors[0].message); return; }
      const v = body.data.verifyEmail;
      button.hidden = true;
      if (warning) warning.hidden = true;
      show(true, say.welcome + ' ' + v.user.username + '! ' + v.message);
    } catch (e) {
      button.disabled = false;
      show(false, say.unreachable);
    }
  });
})();
