// A request's URL even when it has no Host (HTTP/1.0): Bun then hands over only the path.

/** `new URL(req.url)` throws for a bare "/path"; resolve it against a placeholder origin instead. */
export function requestUrl(req: Request): URL {
  return new URL(req.url, "http://host.invalid");
}
