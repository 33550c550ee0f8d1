// Builders for the fetch responses the unit tests stub at the network boundary.
export function jsonResponse(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

// Answers each request with the handler for its "METHOD url", and fails the test on any other.
export function routeFetch(routes) {
  return async (url, init = {}) => {
    const key = `${init.method ?? 'GET'} ${url}`
    const handler = routes[key]
    if (!handler) throw new Error(`Unexpected request: ${key}`)
    return typeof handler === 'function' ? handler(url, init) : handler.clone()
  }
}
