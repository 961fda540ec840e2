## 한국어 메시지. 키는 모두 MessageKey의 변형(kebab-case)이며 다른 언어에도 똑같이 있습니다.

verbatim = { $text }

## 오류 (extensions.code는 그대로 두고 메시지만 번역합니다)

unauthenticated = 로그인이 필요합니다.
token-expired = 액세스 토큰이 만료되었습니다. refreshToken을 호출해 주세요.
session-expired = 세션이 끝났습니다. 다시 로그인해 주세요.
invalid-credentials = 사용자 이름 또는 비밀번호가 올바르지 않습니다.
email-not-verified = 먼저 이메일 주소를 인증해 주세요. 보내 드린 메일의 링크를 열면 됩니다.
account-disabled = 이 계정은 사용이 중지되었습니다. 사이트 운영자에게 문의해 주세요.
invalid-token = 링크나 코드가 올바르지 않거나, 만료되었거나, 이미 사용되었습니다.
already-taken = { $field ->
    [username] 이미 사용 중인 사용자 이름입니다.
    [email] 이미 사용 중인 이메일 주소입니다.
    [newEmail] 이미 사용 중인 이메일 주소입니다.
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

## 실행 전에 거절된 요청 (전송, 신뢰된 문서, 쿼리 한도, 스트림)

request-not-csrf-safe = 브라우저 폼으로는 보낼 수 없는 Content-Type이 필요합니다. Content-Type: application/json으로 보내거나 Apollo-Require-Preflight 헤더를 함께 보내 주세요.
request-body-too-large = 요청 본문이 { $max }바이트를 넘습니다.
# $reason: HTTP 라이브러리가 영어로 알려 준 원인.
request-body-unreadable = 요청 본문을 읽지 못했습니다: { $reason }
request-unreadable = GraphQL 요청을 읽지 못했습니다: { $reason }
request-batched = 여러 작업을 한 요청에 묶어 보낼 수 없습니다. 요청마다 작업을 하나씩 보내 주세요.
mutation-needs-post = 뮤테이션은 POST로 보내야 합니다.
not-websocket-upgrade = WebSocket 업그레이드 요청이 아닙니다: { $reason }
websocket-origin = WebSocket 연결은 이 사이트의 페이지(PUBLIC_URL)와 CORS_ORIGINS에 있는 출처에서만 받습니다.
websocket-protocol = Sec-WebSocket-Protocol에 graphql-transport-ws나 graphql-ws가 있어야 합니다.
operation-not-trusted = 이 서버는 신뢰된 문서만 실행합니다. 매니페스트에 있는 documentId를 보내 주세요.
persisted-query-not-found = PersistedQueryNotFound: 이 id를 가진 신뢰된 문서가 없습니다.
limit-operation-name = 작업 이름은 { $max }자 이하의 GraphQL 이름([_A-Za-z][_0-9A-Za-z]*)이어야 합니다.
limit-tokens = 쿼리의 토큰이 { $max }개를 넘습니다. 최대 { $max }개까지 허용됩니다.
limit-aliases = 쿼리에 별칭이 { $count }개 있습니다. 최대 { $max }개까지 쓸 수 있습니다.
limit-root-fields = 작업이 루트 필드를 { $count }개 고릅니다. 최대 { $max }개까지 고를 수 있습니다.
limit-depth = 쿼리가 { $depth }단계로 너무 깊습니다. 최대 { $max }단계까지 허용됩니다.
limit-fields = 쿼리가 너무 복잡합니다. 필드를 { $count }개 고르는데, 최대 { $max }개까지 허용됩니다.
limit-paged-complexity = 쿼리가 너무 복잡합니다. 목록 페이지의 항목마다 세면 허용된 것보다 많은 필드를 돌려주게 됩니다. 페이지를 작게 하거나 필드를 줄여 주세요.
subscription-one-root-field = 구독은 인트로스펙션 필드가 아닌 루트 필드를 정확히 하나 골라야 합니다. 이 구독은 { $count }개를 고릅니다.
subscriptions-per-user = 이미 구독을 { $max }개 실행하고 있습니다. 하나를 끝낸 뒤 다시 시도해 주세요.
subscriptions-per-connection = 연결 하나에서는 구독을 한 번에 { $max }개까지 실행할 수 있습니다.
streams-full = 서버가 받을 수 있는 구독 연결이 모두 찼습니다. 잠시 뒤에 다시 시도해 주세요.
streams-per-address = 이 주소에서 이미 구독 연결(소켓과 multipart 응답)을 { $max }개 쓰고 있습니다. 하나를 닫은 뒤 다시 시도해 주세요.
streams-per-user = 이미 구독 연결(소켓과 multipart 응답)을 { $max }개 쓰고 있습니다. 하나를 닫은 뒤 다시 시도해 주세요.

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
social-provider-unknown = "{ $provider }"라는 로그인 제공자는 없습니다. socialProviders에서 목록을 볼 수 있습니다.
social-return-to = `returnTo`는 이 사이트(PUBLIC_URL)나 OIDC_RETURN_ORIGINS에 있는 출처의 http(s) URL이어야 합니다.
social-last-way-in = 지금 로그인할 수 있는 방법이 이것 하나뿐입니다. 연결을 끊기 전에 비밀번호를 정하거나 패스키를 추가해 주세요.
delete-account-confirm-mismatch = 계정과 그 안의 모든 내용을 삭제하려면 사용자 이름을 입력해 주세요.
no-query = 요청에 쿼리가 없습니다(documentId로 신뢰된 문서를 지정하지도 않았습니다).
question-missing = { $number }번 문제는 없습니다. 이 퀴즈의 문제는 1번부터 { $count }번까지입니다.
choice-missing = { $number }번 문제에는 { $choice }번 보기가 없습니다. 1번부터 { $count }번 가운데에서 골라 주세요.
answered-twice = { $number }번 문제에 답을 두 번 이상 보냈습니다.
answer-needs-text = { $number }번 문제는 답을 직접 써서 푸는 문제입니다. `choiceNumber` 대신 `text`로 보내 주세요.
answer-needs-choice = { $number }번 문제는 보기에서 고르는 문제입니다. `text` 대신 `choiceNumber`로 보내 주세요.
answer-text-length = { $number }번 문제의 답은 1자 이상 { $max }자 이하로 써 주세요.
time-taken-range = `timeTakenMs`는 0 이상 { $max } 이하(한 시간)여야 합니다.
offline-answer-type = LLM이 없으면 학습 자료로 객관식(MULTIPLE_CHOICE)이나 단답형(SHORT_ANSWER, 빈칸 채우기) 문제만 만들 수 있습니다. 참/거짓(TRUE_FALSE) 문제는 만들 수 없습니다.
page-size = `first`는 1 이상 { $max } 이하여야 합니다.
cursor-unknown = `after`에 이 서버가 준 적 없는 커서가 들어왔습니다.
username-length = 사용자 이름은 { $min }~{ $max }자로 정해 주세요.
username-characters = 사용자 이름에는 영문자 a–z, 숫자, 그리고 _ . - 만 쓸 수 있습니다.
username-needs-alphanumeric = 사용자 이름에는 영문자나 숫자가 하나 이상 있어야 합니다.
email-invalid = 이메일 주소 형식이 아닙니다.
email-required = 이메일 주소를 입력해 주세요.
email-quoted = 따옴표나 이스케이프 문자가 들어간 이메일 주소는 받지 않습니다.
email-look-alike = 이메일 주소에 모양이 비슷한 문자나 호환용 문자가 섞여 있습니다. 일반 문자로 입력해 주세요.
email-unchanged = 지금 계정에 등록된 이메일 주소와 같습니다.
locale-unsupported = 지원하는 언어는 en(영어)과 ko(한국어)입니다. 둘 중 하나를 골라 주세요.
return-to-elsewhere = `returnTo`에는 이 사이트의 주소만 넣을 수 있습니다. /quizzes 같은 경로나 { $origin }(으)로 시작하는 주소를 넣어 주세요.

## 이메일

duration = { $unit ->
    [day] { $n }일
    [hour] { $n }시간
    [minute] { $n }분
   *[second] { $n }초
}
mail-hello = 안녕하세요.
mail-hello-name = { $username }님, 안녕하세요.
verify-subject = Quiz LLM 이메일 주소를 인증해 주세요
verify-signed-up = 누군가 이 이메일 주소로 Quiz LLM에 "{ $username }"(이)라는 사용자 이름으로 가입했습니다.
verify-if-you = 본인이 가입했다면 아래 링크를 열어 이메일 주소를 인증해 주세요.
verify-button = 이메일 주소 인증하기
verify-link-expires = 링크는 한 번만 쓸 수 있고 3일 뒤에 만료됩니다.
verify-not-you = 가입한 적이 없거나 "{ $username }"(이)라는 이름으로 가입하지 않았다면 링크를 열지 말고 이 메일을 무시해 주세요. 계정은 비활성 상태로 남았다가 { $kept } 뒤에 삭제되며, 이 주소로는 언제든 직접 가입할 수 있습니다.
reset-subject = Quiz LLM 비밀번호 재설정
reset-asked = Quiz LLM 비밀번호 재설정 요청이 들어왔습니다. 직접 요청하셨다면 아래 링크에서 새 비밀번호를 정해 주세요.
reset-button = 새 비밀번호 정하기
reset-link-expires = 링크는 한 번만 쓸 수 있고 1시간 뒤에 만료됩니다. 요청한 적이 없다면 이 메일을 무시하셔도 됩니다. 비밀번호는 바뀌지 않습니다.
sign-in-link-subject = Quiz LLM 로그인 링크
sign-in-link-asked = 이 이메일 주소로 Quiz LLM 로그인 요청이 들어왔습니다. 직접 요청하셨다면 아래 링크를 열어 로그인해 주세요.
sign-in-link-button = Quiz LLM에 로그인하기
sign-in-link-code = 링크를 여는 대신, 로그인을 요청한 화면에 이 코드를 입력해도 됩니다: { $code }
sign-in-link-expires = 링크와 코드는 { $ttl } 뒤에 만료되며, 둘 중 하나만 한 번 쓸 수 있습니다.
sign-in-link-not-you = 요청한 적이 없다면 이 메일을 무시하셔도 됩니다. 링크나 코드가 없으면 누구도 로그인할 수 없습니다.
sign-up-link-subject = Quiz LLM 가입을 마무리해 주세요
sign-up-link-asked = 이 이메일 주소로 Quiz LLM 로그인 요청이 들어왔는데, 아직 이 주소로 만든 계정이 없습니다. 직접 요청하셨다면 아래 링크를 열어 계정을 만들고 바로 로그인하세요.
sign-up-link-button = 계정 만들기
sign-up-link-not-you = 요청한 적이 없다면 이 메일을 무시하셔도 됩니다. 링크나 코드를 쓰지 않으면 계정은 만들어지지 않습니다.
sign-up-link-pending = 이 이메일 주소로 Quiz LLM 로그인 요청이 들어왔습니다. 이 주소로 가입한 "{ $username }" 계정이 있지만 아직 인증되지 않았습니다. 직접 요청하셨다면 아래 링크를 열어 주소를 인증하고 그 계정으로 로그인하세요.
sign-up-link-password-dropped = 이렇게 인증하면 가입할 때 정한 비밀번호는 더 이상 쓸 수 없습니다. 누가 정한 비밀번호인지 알 수 없기 때문입니다. 나중에 비밀번호로 로그인하려면 "비밀번호 찾기"를 이용해 주세요.
notice-passkey-added-subject = Quiz LLM 계정에 패스키가 추가되었습니다
notice-totp-enabled-subject = Quiz LLM 2단계 로그인이 켜졌습니다
notice-totp-disabled-subject = Quiz LLM 2단계 로그인이 꺼졌습니다
notice-recovery-codes-subject = Quiz LLM 복구 코드가 새로 발급되었습니다
notice-password-changed-subject = Quiz LLM 비밀번호가 변경되었습니다
notice-password-reset-subject = Quiz LLM 비밀번호가 재설정되었습니다
notice-passkey-added = 계정에 "{ $name }" 패스키가 추가되었습니다. 이 패스키만 있으면 비밀번호나 코드 없이 로그인할 수 있습니다.
notice-totp-enabled = 2단계 로그인이 켜졌습니다. 이제 로그인할 때 인증 앱의 코드도 입력해야 합니다.
notice-totp-disabled = 2단계 로그인이 꺼졌습니다. 이제 비밀번호만으로 로그인합니다.
notice-recovery-codes = 2단계 로그인용 복구 코드가 새로 발급되었습니다. 이전 코드는 더 이상 쓸 수 없습니다.
notice-password-changed = 비밀번호가 변경되었고, 다른 기기의 세션은 모두 로그아웃되었습니다.
notice-password-reset = 이 주소로 보낸 링크를 통해 비밀번호가 재설정되었고, 모든 세션이 로그아웃되었습니다.
notice-passkeys-removed = { $count ->
    [0] 이 계정에는 등록된 패스키가 없었습니다.
   *[other] 패스키 { $count }개가 삭제되었습니다. 재설정은 메일함을 가진 사람임을 증명할 뿐 기기까지 증명하지는 못하기 때문입니다. 로그인한 뒤 패스키를 다시 등록해 주세요.
}
notice-totp-still-on = 2단계 로그인은 그대로 켜져 있습니다. 로그인할 때 여전히 인증 앱의 코드(또는 복구 코드)가 필요합니다.
email-change-subject = Quiz LLM 새 이메일 주소를 확인해 주세요
email-change-asked = 누군가(아마 본인이) Quiz LLM 계정 "{ $username }"의 이메일 주소를 이 주소로 바꾸려고 요청했습니다. 맞다면 이 링크를 열어 확인해 주세요.
email-change-button = 새 이메일 주소 확인
email-change-expires = 링크는 한 번만 쓸 수 있으며 { $ttl } 뒤에 만료됩니다. 요청한 적이 없다면 이 메일은 무시하셔도 됩니다. 계정의 이메일 주소는 바뀌지 않습니다.
email-change-notice-subject = Quiz LLM 계정의 이메일 주소 변경이 요청되었습니다
email-change-notice = 계정의 이메일 주소를 { $masked }(으)로 바꾸는 요청이 있었습니다. 그 주소가 확인되면 바로 바뀌며, 그 뒤로 계정 관련 메일은 이 주소 대신 그 주소로 갑니다.
email-change-undo = 본인이 요청한 것이 아니라면 { $ttl } 안에 이 링크를 열어 주세요. 변경이 취소되고(이미 바뀌었다면 이 주소로 되돌아가고) 계정의 모든 세션이 로그아웃됩니다. 그런 다음 비밀번호를 재설정해 주세요(로그인 화면의 "비밀번호 찾기").
email-change-undo-button = 변경을 취소하고 모든 기기에서 로그아웃
notice-not-you = 본인이 한 일이 아니라면 다른 사람이 계정을 쓰고 있을 수 있습니다. 지금 바로 비밀번호를 재설정한 뒤(로그인 화면의 "비밀번호 찾기"), 로그인해서 패스키와 2단계 로그인, 세션을 확인해 주세요.

## 이메일 링크로 여는 페이지

page-needs-javascript = 이 페이지를 쓰려면 JavaScript가 필요합니다.
page-link-incomplete = 링크가 잘렸습니다. 메일에 있는 링크 전체를 복사해 주세요.
page-unreachable = 서버에 연결하지 못했습니다. 잠시 뒤에 다시 시도해 주세요.
verify-page-title = 이메일 인증
verify-page-intro = 확인 버튼을 누르면 계정이 활성화되고 바로 로그인됩니다.
verify-page-logged-in = 지금 { $username } 계정으로 로그인되어 있습니다. 확인을 누르면 이 브라우저는 그 계정에서 로그아웃되고, 이 링크를 받은 계정으로 로그인됩니다.
verify-page-maybe-logged-in = 이 브라우저가 다른 계정에 로그인되어 있을 수 있습니다. 확인을 누르면 이 링크를 받은 계정으로 로그인이 바뀝니다.
verify-page-confirm = 확인
verify-page-working = 이메일 주소를 인증하는 중입니다…
verify-page-welcome = 환영합니다,
verify-page-graphiql = GraphiQL 열기
reset-page-title = 새 비밀번호 정하기
reset-page-label = 새 비밀번호 (10~128자, 흔하지 않은 단어 몇 개를 이으면 좋습니다)
reset-page-submit = 새 비밀번호로 바꾸기
reset-page-done = 비밀번호를 바꿨습니다. 모든 세션이 로그아웃되었으니 새 비밀번호로 로그인해 주세요.
sign-in-page-title = 로그인
sign-in-page-intro = 로그인 버튼을 누르면 이 브라우저에서 Quiz LLM에 로그인합니다.
sign-in-page-button = 로그인
sign-in-page-logged-in = 지금 { $username } 계정으로 로그인되어 있습니다. 로그인을 누르면 이 브라우저는 그 계정에서 로그아웃되고, 이 링크를 받은 계정으로 로그인됩니다.
sign-in-page-maybe-logged-in = 이 브라우저가 다른 계정에 로그인되어 있을 수 있습니다. 로그인을 누르면 이 링크를 받은 계정으로 로그인이 바뀝니다.
sign-in-page-code-label = 2단계 로그인이 켜져 있습니다. 인증 앱의 코드(또는 복구 코드)를 입력해 주세요.
sign-in-page-code-submit = 계속
sign-in-page-not-from-here = 이 사이트의 로그인 페이지에서 보낸 요청이 아니어서 아무것도 하지 않았습니다. 메일에 있는 링크를 다시 열어 주세요.
sign-in-page-ask-again = 다시 시도하려면 로그인 링크를 새로 요청해 주세요.
email-change-page-title = 이메일 주소 변경
confirm-email-change-page-intro = 확인 버튼을 누르면 이 주소가 계정의 이메일 주소가 됩니다.
confirm-email-change-page-done = 계정의 이메일 주소를 바꿨습니다.
undo-email-change-page-intro = 되돌리기 버튼을 누르면 계정의 이메일 주소 변경이 취소되고(이미 바뀌었다면 원래 주소로 돌아가고) 계정의 모든 세션이 로그아웃됩니다.
undo-email-change-page-button = 되돌리기
undo-email-change-page-done = 변경을 되돌리고 계정의 모든 세션을 로그아웃했습니다. 다른 사람이 비밀번호를 알고 있었다면 지금 바로 재설정해 주세요.

## 학습 자료로 오프라인에서 만드는 퀴즈

offline-stem = 빈칸에 들어갈 알맞은 말을 고르세요: "{ $sentence }"
offline-explanation = 본문에는 이렇게 나옵니다: "{ $sentence }"
offline-description = 학습 자료에서 뽑아 만든 빈칸 채우기 문제 { $count }개입니다.
feedback-all-right = { $total }문제를 모두 맞혔습니다({ $score }%). 잘했어요!
feedback-summary = { $total }문제 가운데 { $correct }문제를 맞혔습니다({ $score }%). { $numbers }번 문제를 다시 살펴보세요.
feedback-chose = 고른 답: "{ $chosen }". 정답: "{ $answer }".
feedback-wrote = 쓴 답: "{ $typed }". 정답: "{ $answer }".
feedback-unanswered = 답하지 않았습니다. 정답: "{ $answer }".
topic-length = 주제는 1자 이상 { $max }자 이하로 써 주세요.
source-text-length = 학습 자료는 { $max }자까지 보낼 수 있습니다.
number-range = `{ $field }` 값은 { $min } 이상 { $max } 이하여야 합니다.
language-code = `language`에는 en, ko, pt-BR 같은 언어 코드를 넣어 주세요.
text-or-material = sourceText와 materialId 가운데 하나만 보내 주세요.
study-text-needed = 이 서버에는 LLM이 설정되어 있지 않아 학습 자료로 퀴즈를 만듭니다. sourceText나 materialId를 보내 주세요. 주제만으로 만들려면 LLM_BASE_URL을 설정해야 합니다.
study-text-too-short = 학습 자료가 너무 짧아 보기 { $choices }개짜리 문제를 만들 수 없습니다. 자료를 더 넣거나 보기 수를 줄여 주세요.
study-text-makes-at-most = 이 학습 자료로는 보기 { $choices }개짜리 문제를 { $possible }개까지만 서로 다르게 만들 수 있습니다. { $possible }개 이하로 요청하거나 자료를 더 넣어 주세요.
one-generation-per-request = 요청 하나로는 퀴즈를 하나만 만들 수 있습니다. generateQuiz는 요청마다 하나씩 보내 주세요.
retention-range = 목표 기억률은 { $min } 이상 { $max } 이하로 정해 주세요.
material-title-length = 제목은 { $max }자까지 쓸 수 있습니다.
material-quota = 학습 자료는 모두 합쳐 { $count }개, { $chars }자까지 보관할 수 있습니다. 먼저 몇 개를 지워 주세요.
file-too-large = 파일이 { $max }바이트보다 큽니다.
no-file-sent = 파일이 오지 않았습니다. 요청을 multipart/form-data로 보내고, map이 가리키는 부분에 파일을 넣어 주세요.
file-unsupported-type = PDF, 마크다운(.md), 일반 텍스트(.txt) 파일만 올릴 수 있습니다.
file-unknown-encoding = 텍스트 인코딩이 UTF-8, BOM이 있는 UTF-16, EUC-KR/CP949 가운데 어느 것도 아닙니다.
file-corrupt-pdf = PDF 파일이 손상되어 읽을 수 없습니다.
file-encrypted-pdf = 암호가 걸린 PDF입니다. 보호가 풀린 사본을 올려 주세요.
file-no-text-layer = 이 PDF에는 텍스트 층이 없습니다(스캔한 이미지인 것 같습니다). 글자를 선택할 수 있는 PDF만 쓸 수 있습니다.
file-too-many-pages = PDF가 { $max }쪽을 넘습니다.
file-decompression-bomb = PDF의 압축된 내용이 이 서버가 읽는 한도보다 크게 풀립니다.
file-empty = 파일에 글자가 없습니다.
file-too-slow = 파일을 읽는 데 너무 오래 걸렸습니다.
signed-up = { $username }님, 환영합니다! { $email } 주소로 확인 링크를 보냈습니다. 링크를 열면 계정이 활성화됩니다.
logged-in = 로그인했습니다.
email-verified-logged-in = 이메일 주소를 확인했습니다. 로그인되었습니다.
guest-started = 게스트로 시작했습니다. 퀴즈를 계속 간직하려면 upgradeGuest로 가입하세요.
logged-out = 로그아웃했습니다.
logged-out-everywhere = 세션 { $count }개에서 로그아웃했습니다.
