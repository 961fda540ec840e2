//! Sample texts and checks shared by the generator's unit tests.

use std::collections::HashSet;

use super::assembly::BLANK;
use super::{Difficulty, GeneratedQuestion, OfflineRequest};

pub(super) const APOLLO: &str = "Apollo 11 was the first crewed mission to land on the Moon. \
It was launched by NASA from the Kennedy Space Center on July 16, 1969. \
The crew consisted of Neil A. Armstrong, Buzz Aldrin, and Michael Collins. \
Armstrong was the mission commander and the first person to walk on the Moon. \
Aldrin joined Armstrong on the lunar surface about 20 minutes later. \
Collins remained in lunar orbit aboard the command module Columbia. \
The lunar module was named Eagle, and it landed in the Sea of Tranquility. \
The landing took place on July 20, 1969, at 20:17 UTC. \
Armstrong and Aldrin spent about 21 hours on the lunar surface. \
They collected 21.5 kilograms of lunar material to bring back to Earth. \
The Saturn V rocket that launched the crew stood about 110 meters tall. \
The astronauts returned to Earth on July 24 and splashed down in the Pacific Ocean. \
President Richard Nixon spoke with the astronauts by telephone while they were on the Moon. \
About 650 million people watched Armstrong's first steps on television.";

pub(super) const KOREAN: &str = "서울은 대한민국의 수도이다. 한강은 서울을 가로지른다. \
서울의 인구는 약 940만 명이다. 부산은 대한민국에서 두 번째로 큰 도시이다. \
부산은 해운대 해수욕장으로 유명하다. 제주도는 한국에서 가장 큰 섬이다.
제주도에는 한라산이 있다. 한라산의 높이는 1947미터이다.
경복궁은 1395년에 조선의 왕궁으로 지어졌다. 세종대왕은 1443년에 한글을 창제하였다.";

pub(super) fn request(text: &str, questions: usize, choices: usize) -> OfflineRequest<'_> {
    OfflineRequest {
        topic: "Study notes",
        source_text: text,
        question_count: questions,
        choice_count: choices,
        difficulty: Difficulty::Medium,
        seed: 42,
        locale: Default::default(),
    }
}

pub(super) fn correct(q: &GeneratedQuestion) -> &str {
    &q.choices
        .iter()
        .find(|c| c.correct)
        .expect("a correct choice")
        .content
}

/// Checks every invariant the generator promises for a successful generation.
pub(super) fn assert_valid(req: &OfflineRequest<'_>, questions: &[GeneratedQuestion]) {
    assert_eq!(questions.len(), req.question_count);
    let mut contents = HashSet::new();
    for q in questions {
        assert!(
            contents.insert(q.content.clone()),
            "duplicate question: {}",
            q.content
        );
        assert!(
            q.content.starts_with("Fill in the blank: \""),
            "{}",
            q.content
        );
        assert!(q.content.contains(BLANK), "{}", q.content);
        assert_eq!(q.choices.len(), req.choice_count, "{q:?}");
        assert_eq!(q.choices.iter().filter(|c| c.correct).count(), 1, "{q:?}");

        let answer = correct(q);
        assert!(!answer.is_empty());
        assert!(
            req.source_text.contains(answer),
            "answer {answer:?} not in text"
        );

        let mut seen = HashSet::new();
        for c in &q.choices {
            assert!(!c.content.trim().is_empty(), "{q:?}");
            assert!(
                seen.insert(c.content.to_lowercase()),
                "duplicate choice in {q:?}"
            );
        }

        // Putting the answer back restores the quoted sentence.
        let explanation = q.explanation.as_deref().expect("explanation");
        let sentence = explanation
            .strip_prefix("The text says: \"")
            .and_then(|s| s.strip_suffix('"'))
            .expect("explanation format");
        let blanked = q
            .content
            .strip_prefix("Fill in the blank: \"")
            .and_then(|s| s.strip_suffix('"'))
            .unwrap();
        assert_eq!(
            blanked.replace(BLANK, answer).to_lowercase(),
            sentence.to_lowercase()
        );

        // The passage is where the quoted sentence stands in the text.
        let passage = &req.source_text[q.passage.clone()];
        assert_eq!(
            passage.split_whitespace().collect::<Vec<_>>().join(" "),
            sentence,
            "passage {:?}",
            q.passage
        );
    }
}
