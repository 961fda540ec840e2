//! `schema.graphql` is what clients generate code from; it must be exactly what the server serves.

#[test]
fn schema_file_matches_the_server() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let served = quiz_llm::graphql::sdl();
    assert!(
        on_disk == served,
        "schema.graphql is out of date; regenerate it with\n    cargo run -q -- print-schema > schema.graphql"
    );
}

#[test]
fn print_schema_command_prints_the_sdl() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
        .arg("print-schema")
        .output()
        .expect("run quiz-llm print-schema");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        quiz_llm::graphql::sdl()
    );
}
