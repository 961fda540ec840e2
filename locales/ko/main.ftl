## 한국어 메시지. 키는 모두 MessageKey의 변형(kebab-case)이며 다른 언어에도 똑같이 있습니다.

verbatim = { $text }
