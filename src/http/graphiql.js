// Starts GraphiQL on /graphiql. The page's settings come from the JSON block it carries
// (#graphiql-config), so this file is the same for every page and CSP can allow it as 'self'.
(function () {
  const config = JSON.parse(document.getElementById('graphiql-config').textContent);
  // graphql-ws wants an absolute ws:// or wss:// URL on this page's own host.
  const socketUrl = (path) => {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  };
  const fetcher = GraphiQL.createFetcher({
    url: config.url,
    subscriptionUrl: config.subscriptionUrl ? socketUrl(config.subscriptionUrl) : undefined,
    // The access token travels in an HttpOnly cookie: every request must carry it.
    fetch: (input, init) => fetch(input, { ...init, credentials: config.credentials }),
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultEditorToolsVisibility: true,
      // This API's first steps, until the browser has tabs of its own saved.
      defaultTabs: config.defaultTabs,
      shouldPersistHeaders: false,
    }),
  );
})();
