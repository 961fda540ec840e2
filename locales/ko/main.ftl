## 한국어 메시지. 키는 모두 MessageKey의 변형(kebab-case)이며 다른 언어에도 똑같이 있습니다.

verbatim = { $text }

## 오류 (extensions.code는 그대로 두고 메시지만 번역합니다)

unauthenticated = 로그인이 필요합니다.
token-expired = 액세스 토큰이 만료되었습니다. refreshToken을 호출해 주세요.
session-expired = 세션이 끝났습니다. 다시 로그인해 주세요.
invalid-credentials = 사용자 이름 또는 비밀번호가 올바르지 않습니다.
email-not-verified = 먼저 이메일 주소를 인증해 주세요. 보내 드린 메일의 링크를 열면 됩니다.
invalid-token = 링크가 올바르지 않거나, 만료되었거나, 이미 사용되었습니다.
already-taken = { $field ->
    [username] 이미 사용 중인 사용자 이름입니다.
    [email] 이미 사용 중인 이메일 주소입니다.
   *[other] 이미 사용 중입니다.
}
not-found = 찾을 수 없습니다.
rate-limited = 시도가 너무 잦습니다. { $seconds }초 뒤에 다시 시도해 주세요.
llm-unavailable = 지금은 퀴즈 생성기를 쓸 수 없습니다. 잠시 뒤에 다시 시도해 주세요.
mfa-required = 로그인을 마치려면 인증 앱에 표시된 코드(또는 복구 코드)를 입력해 주세요.
invalid-mfa-code = 코드가 맞지 않거나 이미 사용된 코드입니다. 다시 로그인한 뒤 새 코드로 시도해 주세요.
reauthentication-required = 먼저 본인 확인이 필요합니다. 비밀번호로 reauthenticate를 호출해 주세요(2단계 로그인을 켰다면 코드도 함께).
passkey-not-accepted = 패스키를 확인하지 못했습니다. 챌린지를 알 수 없거나 이미 쓰였거나 만료되었고, 아니면 자격 증명이 검증되지 않았습니다. startPasskeyLogin부터 다시 시작해 주세요.
internal = 서버 내부 오류가 발생했습니다.
guests-cannot = 게스트 계정에는 비밀번호도 2단계 인증도 없습니다. 먼저 upgradeGuest로 가입해 주세요.
only-guests-upgrade = 이 방식으로는 게스트만 가입할 수 있습니다. 이 계정은 이미 가입되어 있습니다.

## 입력 검증 실패 (BAD_USER_INPUT, extensions.field 포함)

password-length = 비밀번호는 { $min }~{ $max }자로 정해 주세요.
password-contains-username = 비밀번호에 사용자 이름을 넣을 수 없습니다.
# zxcvbn의 조언은 영어로만 나오므로 한국어 메시지에는 넣지 않습니다.
password-too-weak = 너무 쉽게 추측할 수 있는 비밀번호입니다. 흔하지 않은 단어 몇 개를 이어 붙이면 외우기 쉬우면서도 강한 비밀번호가 됩니다.
password-breached = 알려진 유출 사고에 포함된 비밀번호라 공격자가 가장 먼저 시도합니다. 다른 비밀번호를 골라 주세요.
breach-check-unavailable = 지금은 비밀번호가 유출 목록에 있는지 확인하지 못했습니다. 잠시 뒤에 다시 시도해 주세요.
password-needed = 본인 확인을 위해 비밀번호를 입력해 주세요.
code-needed = 2단계 로그인이 켜져 있습니다. 인증 앱의 코드(또는 복구 코드)도 함께 입력해 주세요.
totp-already-on = 2단계 로그인이 이미 켜져 있습니다. 새 앱을 등록하려면 먼저 꺼 주세요.
no-totp-enrollment = 확인할 등록 요청이 없습니다. startTotpEnrollment부터 호출해 주세요.
passkey-name-invalid = 패스키 이름은 제어 문자 없이 { $max }자 이내로 지어 주세요.
credential-malformed = 자격 증명이 직렬화된 PublicKeyCredential 형식이 아닙니다(바이너리 필드는 base64url).
registration-unknown = 알 수 없거나 이미 쓰였거나 만료된 등록입니다. 처음부터 다시 시작해 주세요.
registration-not-verified = 인증기의 응답이 이 등록 요청과 맞지 않습니다.
passkey-already-registered = 이미 등록된 패스키입니다.
no-query = 요청에 쿼리가 없습니다(documentId로 신뢰된 문서를 지정하지도 않았습니다).
question-missing = { $number }번 문제는 없습니다. 이 퀴즈의 문제는 1번부터 { $count }번까지입니다.
choice-missing = { $number }번 문제에는 { $choice }번 보기가 없습니다. 1번부터 { $count }번 가운데에서 골라 주세요.
answered-twice = { $number }번 문제에 답을 두 번 이상 보냈습니다.
page-size = `first`는 1 이상 { $max } 이하여야 합니다.
cursor-unknown = `after`에 이 서버가 준 적 없는 커서가 들어왔습니다.
username-length = 사용자 이름은 { $min }~{ $max }자로 정해 주세요.
username-characters = 사용자 이름에는 영문자 a–z, 숫자, 그리고 _ . - 만 쓸 수 있습니다.
username-needs-alphanumeric = 사용자 이름에는 영문자나 숫자가 하나 이상 있어야 합니다.
email-invalid = 이메일 주소 형식이 아닙니다.
email-required = 이메일 주소를 입력해 주세요.
email-quoted = 따옴표나 이스케이프 문자가 들어간 이메일 주소는 받지 않습니다.
email-look-alike = 이메일 주소에 모양이 비슷한 문자나 호환용 문자가 섞여 있습니다. 일반 문자로 입력해 주세요.
locale-unsupported = 지원하는 언어는 en(영어)과 ko(한국어)입니다. 둘 중 하나를 골라 주세요.
