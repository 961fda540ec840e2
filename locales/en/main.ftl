## Messages in English. Every key here is a MessageKey variant (kebab-case) and is in every
## other locale too; a test checks both.

verbatim = { $text }
