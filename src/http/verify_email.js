(async () => {
  const out = document.getElementById('outcome');
  const params = new URLSearchParams(window.location.search);
  const uid = params.get('uid'), token = params.get('token');
  const show = (ok, text) => {
    out.textContent = text;
    out.className = ok ? 'ok' : 'error';
    document.getElementById('next').hidden = !ok;
  };
  if (!uid || !token) { show(false, 'This link is incomplete. Copy the whole link from the e-mail.'); return; }
  try {
    const res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'accept': 'application/json' },
      body: JSON.stringify({
        query: 'mutation Verify($uid: String!, $token: String!) { verifyEmail(uid: $uid, token: $token) { user { username } message } }',
        variables: { uid, token },
      }),
    });
    const body = await res.json();
    if (body.errors && body.errors.length) { show(false, body.errors[0].message); return; }
    const v = body.data.verifyEmail;
    show(true, 'Welcome, ' + v.user.username + '! ' + v.message);
  } catch (e) {
    show(false, 'The server could not be reached. Try the link again in a moment.');
  }
})();
