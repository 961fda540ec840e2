//! When two usernames or two e-mail addresses name the same account: the keys the stores keep
//! unique and look accounts up by.

/// The look-alike skeleton a username is unique by: ASCII case folded, `i`/`l`/`1` one letter,
/// `o`/`0` one letter, and the separators `_ . -` dropped, so `aIice`, `al1ce` and `alice.`
/// all collide with `alice`.
pub fn username_skeleton(name: &str) -> String {
    name.trim()
        .chars()
        .filter_map(|c| match c.to_ascii_lowercase() {
            '_' | '.' | '-' => None,
            'i' | 'l' | '1' => Some('l'),
            '0' => Some('o'),
            c => Some(c),
        })
        .collect()
}

/// The one spelling of the address the mailer delivers to: the local part lower-cased (accounts
/// never told `Ada@` from `ada@`) and the domain in lower-case ASCII (IDNA), so `ada@bücher.de`
/// and `ada@xn--bcher-kva.de` are one address.
pub fn canonical_email(address: &str) -> String {
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
            format!("{}@{domain}", local.to_lowercase())
        }
        None => address.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_usernames_share_a_skeleton() {
        for name in [
            "alice", "ALICE", "aIice", "al1ce", "alice.", "a.l-i_ce", "AL1CE", "a1ice",
        ] {
            assert_eq!(
                username_skeleton(name),
                username_skeleton("alice"),
                "{name}"
            );
        }
        assert_eq!(username_skeleton("b0b"), username_skeleton("BOB"));
        assert_ne!(username_skeleton("alice"), username_skeleton("alicia"));
        assert_ne!(username_skeleton("bob"), username_skeleton("rob"));
    }

    #[test]
    fn one_spelling_per_address() {
        assert_eq!(canonical_email(" Ada@Example.COM "), "ada@example.com");
        assert_eq!(
            canonical_email("ada@Bücher.de"),
            canonical_email("ada@xn--bcher-kva.de")
        );
        assert_eq!(canonical_email("not an address"), "not an address");
    }
}
