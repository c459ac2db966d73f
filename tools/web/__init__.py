"""Web access for the agent: the `fetch` tool, its SSRF guard and HTML-to-text conversion."""
