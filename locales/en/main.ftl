## Messages in English. Every key here is a MessageKey variant (kebab-case) and is in every
## other locale too; a test checks both.

verbatim = { $text }

## Errors (extensions.code stays as documented; only the message is localized)

unauthenticated = You must be logged in.
token-expired = The access token has expired; call refreshToken.
session-expired = Your session has ended; please log in again.
invalid-credentials = Invalid username or password.
email-not-verified = Confirm your e-mail address first: open the link we sent you.
account-disabled = This account has been disabled; contact the site's operators.
invalid-token = This link or code is invalid, expired or already used.
already-taken = { $field ->
    [newEmail] That e-mail address is already taken.
   *[other] That { $field } is already taken.
}
not-found = Not found.
rate-limited = Too many attempts; try again in { $seconds } seconds.
llm-unavailable = The quiz generator is unavailable right now; try again later.
mfa-required = Enter the code from your authenticator app (or a recovery code) to finish logging in.
invalid-mfa-code = That code is not right, or was already used; log in again to get a new chance.
reauthentication-required = Confirm it is you first: call reauthenticate with your password (and a code when two-factor login is on).
passkey-not-accepted = The passkey was not accepted (the challenge is unknown, used or expired, or the credential does not verify); start again with startPasskeyLogin.
internal = Internal error.
guests-cannot = Guests have no password or second factor: sign up with upgradeGuest first.
only-guests-upgrade = Only a guest can sign up in place; this account has signed up already.

## Requests refused before they run (transport, trusted documents, query limits, streams)

request-not-csrf-safe = This request has no Content-Type a browser form cannot send: use Content-Type: application/json (or send an Apollo-Require-Preflight header).
request-body-too-large = The request body is larger than { $max } bytes.
# $reason: the HTTP library's own words, in English.
request-body-unreadable = Could not read the request body: { $reason }
request-unreadable = Could not read the GraphQL request: { $reason }
request-batched = Batched requests are not supported; send one operation per request.
mutation-needs-post = Mutations must be sent with POST.
not-websocket-upgrade = Not a WebSocket upgrade: { $reason }
websocket-origin = WebSocket connections are accepted only from this site's own pages (PUBLIC_URL) and CORS_ORIGINS.
websocket-protocol = Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws.
operation-not-trusted = Only trusted documents run here: send a documentId from the manifest.
persisted-query-not-found = PersistedQueryNotFound: no trusted document has this id.
limit-operation-name = Operation names must be GraphQL names ([_A-Za-z][_0-9A-Za-z]*) of at most { $max } characters.
limit-tokens = The query has more than { $max } tokens; at most { $max } are allowed.
limit-aliases = The query uses { $count } aliases; at most { $max } are allowed.
limit-root-fields = The operation selects { $count } root fields; at most { $max } are allowed.
limit-depth = The query is nested too deep: { $depth } levels; at most { $max } are allowed.
limit-fields = The query is too complex: it selects { $count } fields; at most { $max } are allowed.
limit-paged-complexity = The query is too complex: counting each item of a list page, it would answer with more fields than allowed. Ask for smaller pages or fewer fields.
subscription-one-root-field = A subscription must select exactly one root field, not an introspection field; this one selects { $count }.
subscriptions-per-user = You already run { $max } subscriptions; end one first.
subscriptions-per-connection = A connection may run { $max } subscriptions at once.
streams-full = The server holds as many subscription connections as it takes; try again later.
streams-per-address = Your address already holds { $max } subscription connections (sockets and multipart responses); close one first.
streams-per-user = You already hold { $max } subscription connections (sockets and multipart responses); close one first.

## Input that fails validation (BAD_USER_INPUT, with extensions.field)

password-length = Password must be { $min } to { $max } characters long.
password-contains-username = Password must not contain your username.
# $advice: zxcvbn's own advice, in English, starting with a space.
password-too-weak = Password is too easy to guess.{ $advice }
password-breached = This password appears in known data breaches, so attackers try it early; choose another.
breach-check-unavailable = The password could not be checked against known breaches just now; try again in a moment.
password-needed = Enter your password to confirm it is you.
code-needed = Two-factor login is on: enter a code from your authenticator app (or a recovery code) too.
totp-already-on = Two-factor login is already on; turn it off first to enroll a new app.
no-totp-enrollment = There is no enrollment to confirm; call startTotpEnrollment first.
passkey-name-invalid = A passkey's name is at most { $max } characters, with no control characters.
credential-malformed = The credential is not a serialised PublicKeyCredential (binary fields in base64url).
registration-unknown = This registration is unknown, used or expired; start it again.
registration-not-verified = The authenticator's answer does not verify for this registration.
passkey-already-registered = This passkey is registered already.
social-provider-unknown = There is no sign-in provider called "{ $provider }"; socialProviders lists them.
social-return-to = `returnTo` must be an http(s) URL on this site (PUBLIC_URL) or on an origin in OIDC_RETURN_ORIGINS.
social-last-way-in = This is your only way to sign in: set a password or add a passkey before you unlink it.
delete-account-confirm-mismatch = Type your username to confirm that the account and everything in it should be deleted.
no-query = The operation has no query (and names no trusted document with documentId).
question-missing = Question { $number } does not exist; this quiz has questions 1 to { $count }.
choice-missing = Question { $number } has no choice { $choice }; pick 1 to { $count }.
answered-twice = Question { $number } is answered more than once.
answer-needs-text = Question { $number } is answered by typing: send `text`, not `choiceNumber`.
answer-needs-choice = Question { $number } is answered with a choice: send `choiceNumber`, not `text`.
answer-text-length = The answer to question { $number } must be 1 to { $max } characters long.
time-taken-range = `timeTakenMs` must be between 0 and { $max } (an hour).
offline-answer-type = Without an LLM, quizzes are built from study text as MULTIPLE_CHOICE or SHORT_ANSWER (fill-in-the-blank) questions, not TRUE_FALSE.
page-size = `first` must be between 1 and { $max }.
cursor-unknown = `after` is not a cursor this server gave out.
username-length = Username must be { $min } to { $max } characters long.
username-characters = Username may contain only letters a–z, digits, and _ . -
username-needs-alphanumeric = Username must contain a letter or a digit.
email-invalid = That does not look like an e-mail address.
email-required = E-mail address is required.
email-quoted = Quoted or escaped e-mail addresses are not accepted.
email-look-alike = The e-mail address contains look-alike or compatibility characters; type it with ordinary letters.
email-unchanged = That is already the e-mail address of your account.
locale-unsupported = Choose a language this service speaks: en (English) or ko (Korean).
return-to-elsewhere = `returnTo` must be an address on this site: a path such as /quizzes, or an address starting with { $origin }.

## E-mails

duration = { $unit ->
    [day] { $n ->
        [one] { $n } day
       *[other] { $n } days
    }
    [hour] { $n ->
        [one] { $n } hour
       *[other] { $n } hours
    }
    [minute] { $n ->
        [one] { $n } minute
       *[other] { $n } minutes
    }
   *[second] { $n ->
        [one] { $n } second
       *[other] { $n } seconds
    }
}
mail-hello = Hello,
mail-hello-name = Hello { $username },
verify-subject = Confirm your e-mail address for Quiz LLM
verify-signed-up = Someone signed up for Quiz LLM with this e-mail address as the user "{ $username }".
verify-if-you = If that was you, confirm your e-mail address by opening this link:
verify-button = Confirm my e-mail address
verify-link-expires = The link works once and expires in 3 days.
verify-not-you = If you did not sign up, or not as "{ $username }", ignore this e-mail and do not open the link. The account stays inactive and is deleted after { $kept }, and you can sign up with this address yourself at any time.
reset-subject = Reset your Quiz LLM password
reset-asked = Someone (hopefully you) asked to reset your Quiz LLM password. Choose a new one here:
reset-button = Choose a new password
reset-link-expires = The link works once and expires in 1 hour. If you did not ask, ignore this e-mail: your password stays as it is.
sign-in-link-subject = Sign in to Quiz LLM
sign-in-link-asked = Someone (hopefully you) asked to sign in to Quiz LLM with this e-mail address. To sign in, open this link:
sign-in-link-button = Sign in to Quiz LLM
sign-in-link-code = Or enter this code where you asked to sign in: { $code }
sign-in-link-expires = The link and the code expire in { $ttl }. Only one of them works, and only once.
sign-in-link-not-you = If you did not ask, ignore this e-mail: without the link or the code, nobody can sign in.
sign-up-link-subject = Create your Quiz LLM account
sign-up-link-asked = Someone (hopefully you) asked to sign in to Quiz LLM with this e-mail address, which has no account yet. To create one and sign in, open this link:
sign-up-link-button = Create my account
sign-up-link-not-you = If you did not ask, ignore this e-mail: no account is made unless the link or the code is used.
sign-up-link-pending = Someone (hopefully you) asked to sign in to Quiz LLM with this e-mail address. An account named "{ $username }" was signed up with it but never confirmed. To confirm the address and sign in to that account, open this link:
sign-up-link-password-dropped = Confirming this way turns off the password chosen at that sign-up, since anyone could have chosen it. To log in with a password later, use "Forgot password".
notice-passkey-added-subject = A passkey was added to your Quiz LLM account
notice-totp-enabled-subject = Two-factor login was turned on for Quiz LLM
notice-totp-disabled-subject = Two-factor login was turned off for Quiz LLM
notice-recovery-codes-subject = New Quiz LLM recovery codes were made
notice-password-changed-subject = Your Quiz LLM password was changed
notice-password-reset-subject = Your Quiz LLM password was reset
notice-passkey-added = A passkey named "{ $name }" was added to your account. It logs in on its own, without your password or a code.
notice-totp-enabled = Two-factor login was turned on: logging in now also asks for a code from an authenticator app.
notice-totp-disabled = Two-factor login was turned off: your password alone logs in again.
notice-recovery-codes = New recovery codes were made for two-factor login; the old ones no longer work.
notice-password-changed = Your password was changed, and your other sessions were logged out.
notice-password-reset = Your password was reset with a link sent to this address, and every session was logged out.
notice-passkeys-removed = { $count ->
    [0] The account had no passkeys.
    [one] { $count } passkey was removed: a reset proves the mailbox, not the devices. Log in and add yours again.
   *[other] { $count } passkeys were removed: a reset proves the mailbox, not the devices. Log in and add yours again.
}
notice-totp-still-on = Two-factor login is still on: logging in still asks for a code from your authenticator app (or a recovery code).
email-change-subject = Confirm your new e-mail address for Quiz LLM
email-change-asked = Someone (hopefully you) asked to change the e-mail address of the Quiz LLM account "{ $username }" to this address. To confirm it, open this link:
email-change-button = Confirm my new e-mail address
email-change-expires = The link works once and expires in { $ttl }. If you did not ask, ignore this e-mail: the account keeps its address.
email-change-notice-subject = The e-mail address of your Quiz LLM account is being changed
email-change-notice = Someone asked to change the e-mail address of your account to { $masked }. It changes once that address is confirmed; from then on, the account's e-mail goes there instead of here.
email-change-undo = If this was not you, open this link within { $ttl }: it cancels the change (or puts this address back, if the change was already made) and logs out every session of the account. Then reset your password ("Forgot password" when logging in).
email-change-undo-button = Undo the change and log out everywhere
notice-not-you = If this was not you, someone else can use your account: reset your password now ("Forgot password" when logging in), then log in and check your passkeys, two-factor login and sessions.

## The pages e-mail links land on

page-needs-javascript = This page needs JavaScript.
page-link-incomplete = This link is incomplete. Copy the whole link from the e-mail.
page-unreachable = The server could not be reached. Try again in a moment.
verify-page-title = Confirm your e-mail
verify-page-intro = Press Confirm to activate your account and log in.
verify-page-logged-in = You are logged in as { $username }. Confirming logs this browser out of that account and into the account this link was sent to.
verify-page-maybe-logged-in = This browser may be logged in to an account. Confirming logs it into the account this link was sent to instead.
verify-page-confirm = Confirm
verify-page-working = Confirming your e-mail address…
verify-page-welcome = Welcome,
verify-page-graphiql = Open GraphiQL
reset-page-title = Choose a new password
reset-page-label = New password (10 to 128 characters; a few uncommon words work well)
reset-page-submit = Set new password
reset-page-done = Your password has been changed. Every session was logged out; log in with the new password.
sign-in-page-title = Sign in
sign-in-page-intro = Press Sign in to sign in to Quiz LLM in this browser.
sign-in-page-button = Sign in
sign-in-page-logged-in = You are logged in as { $username }. Signing in logs this browser out of that account and into the account this link was sent to.
sign-in-page-maybe-logged-in = This browser may be logged in to an account. Signing in logs it into the account this link was sent to instead.
sign-in-page-code-label = Two-factor login is on: enter the code from your authenticator app (or a recovery code).
sign-in-page-code-submit = Continue
sign-in-page-not-from-here = This request did not come from this site's sign-in page, so nothing was done. Open the link from the e-mail again.
sign-in-page-ask-again = To try again, ask for a new sign-in link.
email-change-page-title = Change of e-mail address
confirm-email-change-page-intro = Press Confirm to make this the e-mail address of your account.
confirm-email-change-page-done = The e-mail address of your account has been changed.
undo-email-change-page-intro = Press Undo to cancel the change of your account's e-mail address (or put the old address back) and log out every session of the account.
undo-email-change-page-button = Undo
undo-email-change-page-done = The change was undone and every session of the account was logged out. If someone else knew your password, reset it now.

## Quizzes built offline from the study text

offline-stem = Fill in the blank: "{ $sentence }"
offline-explanation = The text says: "{ $sentence }"
offline-description = { $count } fill-in-the-blank questions built from your study text.
feedback-all-right = All { $total } answers are correct ({ $score }%). Well done!
feedback-summary = You got { $correct } of { $total } right ({ $score }%). Review { $count ->
        [one] question
       *[other] questions
    } { $numbers }.
feedback-chose = You chose "{ $chosen }", but the answer is "{ $answer }".
feedback-wrote = You wrote "{ $typed }", but the answer is "{ $answer }".
feedback-unanswered = Not answered. The answer is "{ $answer }".
topic-length = The topic must be 1 to { $max } characters long.
source-text-length = The study text may be at most { $max } characters long.
number-range = `{ $field }` must be between { $min } and { $max }.
language-code = `language` must be a language code such as en, ko or pt-BR.
text-or-material = Send either sourceText or materialId, not both.
study-text-needed = No LLM is configured on this server, so quizzes are built from study text: give sourceText or materialId (or configure LLM_BASE_URL to generate from a topic alone).
study-text-too-short = The study text is too short to build questions with { $choices } choices; add more text or ask for fewer choices.
study-text-makes-at-most = The study text can make at most { $possible } distinct questions with { $choices } choices; ask for { $possible } or fewer, or add more text.
one-generation-per-request = Only one quiz can be generated per request; send each generateQuiz in a request of its own.
retention-range = The desired retention must be between { $min } and { $max }.
material-title-length = The title may be at most { $max } characters long.
material-quota = You may keep { $count } study materials with { $chars } characters of text in all; delete some first.
file-too-large = The file is larger than { $max } bytes.
no-file-sent = No file was sent: send the request as multipart/form-data with the file in the part the map names.
file-unsupported-type = Only PDF, Markdown (.md) and plain text (.txt) files can be uploaded.
file-unknown-encoding = The text is not UTF-8, UTF-16 with a byte order mark, or EUC-KR/CP949.
file-corrupt-pdf = The PDF file is damaged and cannot be read.
file-encrypted-pdf = The PDF is encrypted or password-protected; upload an unprotected copy.
file-no-text-layer = The PDF has no text layer (it is probably scanned images): only PDFs with selectable text can be used.
file-too-many-pages = The PDF has more than { $max } pages.
file-decompression-bomb = The PDF's compressed content expands to more than this server reads.
file-empty = The file holds no text.
file-too-slow = Reading the file took too long.
signed-up = Welcome, { $username }! We sent a confirmation link to { $email }; open it to activate your account.
logged-in = Logged in.
email-verified-logged-in = E-mail verified; you are logged in.
guest-started = You are a guest: sign up with upgradeGuest to keep your quizzes.
logged-out = Logged out.
logged-out-everywhere = Logged out of { $count } session(s).
