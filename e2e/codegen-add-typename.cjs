// The trusted documents carry __typename in every selection set, as Apollo Client's and urql's
// caches add it to what they send: the server runs the manifest's text, so the answers must
// have what the caches expect.
module.exports = require('@graphql-codegen/client-preset').addTypenameSelectionDocumentTransform;
