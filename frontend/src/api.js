// Every call the frontend makes to the Django API lives here.
// URLs are relative so the same build works behind any domain.

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const NON_FIELD_KEYS = new Set(['detail', 'non_field_errors'])

export class ApiError extends Error {
  constructor(message, { status, fieldErrors = {} } = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    // {field: [messages]} as DRF returns them, for showing next to inputs.
    this.fieldErrors = fieldErrors
  }
}

// apiUrl('portfolios', 3, 'import') -> '/api/portfolios/3/import/'
export function apiUrl(...segments) {
  const path = segments.map((segment) => encodeURIComponent(String(segment)))
  return `/api/${path.map((segment) => `${segment}/`).join('')}`
}

export function readCookie(name, cookieString = document.cookie) {
  for (const pair of cookieString.split(';')) {
    const separator = pair.indexOf('=')
    if (separator === -1) continue
    if (pair.slice(0, separator).trim() === name) {
      return decodeURIComponent(pair.slice(separator + 1).trim())
    }
  }
  return null
}

function messagesOf(value) {
  if (value == null) return []
  if (Array.isArray(value)) return value.flatMap(messagesOf)
  if (typeof value === 'object') {
    return Object.entries(value).flatMap(([key, nested]) =>
      messagesOf(nested).map((message) => `${key}: ${message}`),
    )
  }
  return [String(value)]
}

// 'cost_basis' -> 'Cost basis', matching the form's labels.
function humanizeField(field) {
  const words = field.replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

// Turns a DRF error body into one readable sentence:
// {"detail": "x"} -> "x"; {"cost_basis": ["Required."]} -> "Cost basis: Required."
export function errorMessageFrom(body, status, statusText = '') {
  if (typeof body === 'string' && body.trim() !== '') return body.trim()
  if (Array.isArray(body)) {
    const messages = messagesOf(body)
    if (messages.length) return messages.join(' ')
  }
  if (body && typeof body === 'object') {
    const messages = []
    for (const key of NON_FIELD_KEYS) messages.push(...messagesOf(body[key]))
    for (const [field, value] of Object.entries(body)) {
      if (NON_FIELD_KEYS.has(field)) continue
      const label = humanizeField(field)
      messages.push(...messagesOf(value).map((message) => `${label}: ${message}`))
    }
    if (messages.length) return messages.join(' ')
  }
  return `Request failed: ${status}${statusText ? ` ${statusText}` : ''}`
}

function fieldErrorsFrom(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {}
  const fieldErrors = {}
  for (const [field, value] of Object.entries(body)) {
    if (NON_FIELD_KEYS.has(field)) continue
    fieldErrors[field] = messagesOf(value)
  }
  return fieldErrors
}

async function readBody(response) {
  const text = await response.text()
  if (text === '') return null
  const contentType = response.headers.get('Content-Type') || ''
  if (contentType.includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      return null
    }
  }
  return null
}

export async function request(url, { method = 'GET', json, formData } = {}) {
  const upperMethod = method.toUpperCase()
  const headers = { Accept: 'application/json' }
  let body
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(json)
  } else if (formData !== undefined) {
    // The browser writes the multipart Content-Type with its boundary.
    body = formData
  }
  if (!SAFE_METHODS.has(upperMethod)) {
    const csrfToken = readCookie('csrftoken')
    if (csrfToken) headers['X-CSRFToken'] = csrfToken
  }

  const response = await fetch(url, {
    method: upperMethod,
    headers,
    body,
    credentials: 'same-origin',
  })
  const data = await readBody(response)
  if (!response.ok) {
    throw new ApiError(errorMessageFrom(data, response.status, response.statusText), {
      status: response.status,
      fieldErrors: fieldErrorsFrom(data),
    })
  }
  return data
}

export async function listPortfolios() {
  const data = await request(apiUrl('portfolios'))
  // Tolerate DRF pagination being switched on later.
  if (data && Array.isArray(data.results)) return data.results
  return data ?? []
}

export function getPortfolio(portfolioId) {
  return request(apiUrl('portfolios', portfolioId))
}

export function createHolding({ portfolio, symbol, quantity, costBasis }) {
  return request(apiUrl('holdings'), {
    method: 'POST',
    json: { portfolio, symbol, quantity, cost_basis: costBasis },
  })
}

// Answers 202 with {id, status, url}: the import is queued; getImport(url) follows it.
export function importHoldingsCsv(portfolioId, file) {
  const formData = new FormData()
  formData.append('file', file)
  return request(apiUrl('portfolios', portfolioId, 'import'), {
    method: 'POST',
    formData,
  })
}

// One import as the worker left it: {id, status: queued|running|done|failed, rows, error, ...}.
export function getImport(url) {
  return request(url)
}
