import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ApiError,
  apiUrl,
  createHolding,
  errorMessageFrom,
  getImport,
  getPortfolio,
  importHoldingsCsv,
  listPortfolios,
  readCookie,
} from './api.js'
import { jsonResponse } from './testResponses.js'

function setCsrfCookie(value) {
  document.cookie = `csrftoken=${value}; path=/`
}

function clearCsrfCookie() {
  document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/'
}

let fetchMock

beforeEach(() => {
  fetchMock = vi.fn()
  vi.stubGlobal('fetch', fetchMock)
})

afterEach(clearCsrfCookie)

describe('apiUrl', () => {
  it('builds relative URLs with the trailing slash Django expects', () => {
    expect(apiUrl('portfolios')).toBe('/api/portfolios/')
    expect(apiUrl('portfolios', 3, 'import')).toBe('/api/portfolios/3/import/')
  })

  it('encodes each segment', () => {
    expect(apiUrl('portfolios', 'a/b c')).toBe('/api/portfolios/a%2Fb%20c/')
  })
})

describe('readCookie', () => {
  it('finds the named cookie among others and decodes it', () => {
    const cookies = 'sessionid=abc; csrftoken=t%3Dk; other=1'
    expect(readCookie('csrftoken', cookies)).toBe('t=k')
    expect(readCookie('sessionid', cookies)).toBe('abc')
  })

  it('returns null when the cookie is absent', () => {
    expect(readCookie('csrftoken', 'sessionid=abc')).toBeNull()
    expect(readCookie('csrftoken', '')).toBeNull()
  })
})

describe('reading', () => {
  it('lists portfolios with a same-origin JSON GET and no CSRF header', async () => {
    setCsrfCookie('tok123')
    fetchMock.mockResolvedValue(jsonResponse(200, [{ id: 1, name: 'Demo portfolio' }]))

    await expect(listPortfolios()).resolves.toEqual([{ id: 1, name: 'Demo portfolio' }])

    expect(fetchMock).toHaveBeenCalledTimes(1)
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/portfolios/')
    expect(init.method).toBe('GET')
    expect(init.credentials).toBe('same-origin')
    expect(init.headers.Accept).toBe('application/json')
    expect(init.headers).not.toHaveProperty('X-CSRFToken')
    expect(init.body).toBeUndefined()
  })

  it('accepts a paginated list', async () => {
    fetchMock.mockResolvedValue(
      jsonResponse(200, { count: 1, next: null, results: [{ id: 4, name: 'Paged' }] }),
    )
    await expect(listPortfolios()).resolves.toEqual([{ id: 4, name: 'Paged' }])
  })

  it('fetches one portfolio by id', async () => {
    const detail = { id: 7, name: 'Demo portfolio', holdings: [], total_cost_basis: '0.0000' }
    fetchMock.mockResolvedValue(jsonResponse(200, detail))

    await expect(getPortfolio(7)).resolves.toEqual(detail)
    expect(fetchMock.mock.calls[0][0]).toBe('/api/portfolios/7/')
  })
})

describe('writing', () => {
  it('posts a holding as JSON with the CSRF token from the cookie', async () => {
    setCsrfCookie('tok123')
    const created = { id: 9, portfolio: 1, symbol: 'AAPL', quantity: '10.0000', cost_basis: '1500.0000' }
    fetchMock.mockResolvedValue(jsonResponse(201, created))

    const result = await createHolding({
      portfolio: 1,
      symbol: 'AAPL',
      quantity: '10',
      costBasis: '1500.00',
    })

    expect(result).toEqual(created)
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/holdings/')
    expect(init.method).toBe('POST')
    expect(init.credentials).toBe('same-origin')
    expect(init.headers['X-CSRFToken']).toBe('tok123')
    expect(init.headers['Content-Type']).toBe('application/json')
    expect(JSON.parse(init.body)).toEqual({
      portfolio: 1,
      symbol: 'AAPL',
      quantity: '10',
      cost_basis: '1500.00',
    })
  })

  it('sends no CSRF header when there is no csrftoken cookie', async () => {
    fetchMock.mockResolvedValue(jsonResponse(201, { id: 1 }))
    await createHolding({ portfolio: 1, symbol: 'A', quantity: '1', costBasis: '1' })
    expect(fetchMock.mock.calls[0][1].headers).not.toHaveProperty('X-CSRFToken')
  })

  it('uploads the CSV as multipart field "file" and lets the browser set the boundary', async () => {
    setCsrfCookie('tok456')
    const file = new File(['symbol,quantity,cost_basis\nAAPL,1,2\n'], 'holdings.csv', {
      type: 'text/csv',
    })
    const queued = { id: 9, status: 'queued', url: '/api/imports/9/' }
    fetchMock.mockResolvedValue(jsonResponse(202, queued))

    await expect(importHoldingsCsv(3, file)).resolves.toEqual(queued)

    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/portfolios/3/import/')
    expect(init.method).toBe('POST')
    expect(init.headers['X-CSRFToken']).toBe('tok456')
    expect(init.headers).not.toHaveProperty('Content-Type')
    expect(init.body).toBeInstanceOf(FormData)
    const sent = init.body.get('file')
    expect(sent.name).toBe('holdings.csv')
    expect(await sent.text()).toBe('symbol,quantity,cost_basis\nAAPL,1,2\n')
  })

  it('follows an import at the url its queueing answered with', async () => {
    const record = { id: 9, status: 'running', rows: 0, error: '' }
    fetchMock.mockResolvedValue(jsonResponse(200, record))

    await expect(getImport('/api/imports/9/')).resolves.toEqual(record)

    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/imports/9/')
    expect(init.method).toBe('GET')
  })

  it('resolves to null on an empty success response', async () => {
    fetchMock.mockResolvedValue(new Response(null, { status: 204 }))
    await expect(createHolding({ portfolio: 1, symbol: 'A', quantity: '1', costBasis: '1' }))
      .resolves.toBeNull()
  })
})

describe('errors', () => {
  it('throws the API detail message with the status', async () => {
    fetchMock.mockResolvedValue(jsonResponse(400, { detail: 'Row 3: quantity "ten" is not a number.' }))

    const error = await importHoldingsCsv(1, new File(['x'], 'bad.csv')).catch((e) => e)

    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(400)
    expect(error.message).toBe('Row 3: quantity "ten" is not a number.')
    expect(error.fieldErrors).toEqual({})
  })

  it('flattens field errors into a readable message and keeps them per field', async () => {
    fetchMock.mockResolvedValue(
      jsonResponse(400, {
        symbol: ['This field is required.'],
        cost_basis: ['A valid number is required.', 'Must be positive.'],
      }),
    )

    const error = await createHolding({ portfolio: 1, symbol: '', quantity: '1', costBasis: 'x' })
      .catch((e) => e)

    expect(error.message).toBe(
      'Symbol: This field is required. Cost basis: A valid number is required. ' +
        'Cost basis: Must be positive.',
    )
    expect(error.fieldErrors).toEqual({
      symbol: ['This field is required.'],
      cost_basis: ['A valid number is required.', 'Must be positive.'],
    })
  })

  it('puts non-field errors first, without a field name', () => {
    expect(
      errorMessageFrom({ quantity: ['Too big.'], non_field_errors: ['Duplicate symbol.'] }, 400),
    ).toBe('Duplicate symbol. Quantity: Too big.')
  })

  it('falls back to the HTTP status when the body is not JSON', async () => {
    fetchMock.mockResolvedValue(
      new Response('<h1>Server Error (500)</h1>', {
        status: 500,
        statusText: 'Internal Server Error',
        headers: { 'Content-Type': 'text/html' },
      }),
    )

    const error = await getPortfolio(1).catch((e) => e)

    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(500)
    expect(error.message).toBe('Request failed: 500 Internal Server Error')
  })

  it('lets network failures through unchanged', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'))
    await expect(listPortfolios()).rejects.toThrow('Failed to fetch')
  })
})
