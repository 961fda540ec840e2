## Messages in English. Every key here is a MessageKey variant (kebab-case) and is in every
## other locale too; a test checks both.

verbatim = { $text }

## Errors (extensions.code stays as documented; only the message is localized)

unauthenticated = You must be logged in.
token-expired = The access token has expired; call refreshToken.
session-expired = Your session has ended; please log in again.
invalid-credentials = Invalid username or password.
email-not-verified = Confirm your e-mail address first: open the link we sent you.
invalid-token = This link is invalid, expired or already used.
already-taken = That { $field } is already taken.
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
no-query = The operation has no query (and names no trusted document with documentId).
question-missing = Question { $number } does not exist; this quiz has questions 1 to { $count }.
choice-missing = Question { $number } has no choice { $choice }; pick 1 to { $count }.
answered-twice = Question { $number } is answered more than once.
page-size = `first` must be between 1 and { $max }.
cursor-unknown = `after` is not a cursor this server gave out.
username-length = Username must be { $min } to { $max } characters long.
username-characters = Username may contain only letters a–z, digits, and _ . -
username-needs-alphanumeric = Username must contain a letter or a digit.
email-invalid = That does not look like an e-mail address.
email-required = E-mail address is required.
email-quoted = Quoted or escaped e-mail addresses are not accepted.
email-look-alike = The e-mail address contains look-alike or compatibility characters; type it with ordinary letters.
locale-unsupported = Choose a language this service speaks: en (English) or ko (Korean).
