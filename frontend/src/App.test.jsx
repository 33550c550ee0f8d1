import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import App from './App.jsx'
import { jsonResponse, routeFetch } from './testResponses.js'

const portfolios = [
  { id: 1, name: 'Demo portfolio', created_at: '2026-01-01T00:00:00Z' },
  { id: 2, name: 'Retirement' },
]

const demoDetail = {
  id: 1,
  name: 'Demo portfolio',
  holdings: [
    { id: 10, symbol: 'AAPL', quantity: '10.0000', cost_basis: '1500.0000' },
    { id: 11, symbol: 'MSFT', quantity: '4.0000', cost_basis: '1200.5000' },
  ],
  total_cost_basis: '2700.5000',
  holding_count: 2,
}

const retirementDetail = {
  id: 2,
  name: 'Retirement',
  holdings: [{ id: 20, symbol: 'VWRL', quantity: '100.0000', cost_basis: '9000.0000' }],
  total_cost_basis: '9000.0000',
  holding_count: 1,
}

let fetchMock

beforeEach(() => {
  fetchMock = vi.fn()
  vi.stubGlobal('fetch', fetchMock)
})

function totalsRow() {
  return screen.getByRole('rowheader', { name: 'Total' }).closest('tr')
}

describe('App', () => {
  it('lists the portfolios and shows the first one with its holdings and totals', async () => {
    fetchMock.mockImplementation(
      routeFetch({
        'GET /api/portfolios/': jsonResponse(200, portfolios),
        'GET /api/portfolios/1/': jsonResponse(200, demoDetail),
      }),
    )
    render(<App />)

    expect(await screen.findByRole('heading', { level: 2, name: 'Demo portfolio' })).toBeInTheDocument()
    const list = screen.getByRole('navigation', { name: 'Portfolios' })
    expect(within(list).getByRole('button', { name: 'Demo portfolio' })).toHaveAttribute('aria-current', 'true')
    expect(within(list).getByRole('button', { name: 'Retirement' })).not.toHaveAttribute('aria-current')
    expect(screen.getByRole('rowheader', { name: 'AAPL' })).toBeInTheDocument()
    expect(screen.getByRole('rowheader', { name: 'MSFT' })).toBeInTheDocument()
    expect(totalsRow()).toHaveTextContent('2 holdings')
    expect(totalsRow()).toHaveTextContent('2,700.50')
  })

  it('shows another portfolio when it is picked', async () => {
    const user = userEvent.setup()
    fetchMock.mockImplementation(
      routeFetch({
        'GET /api/portfolios/': jsonResponse(200, portfolios),
        'GET /api/portfolios/1/': jsonResponse(200, demoDetail),
        'GET /api/portfolios/2/': jsonResponse(200, retirementDetail),
      }),
    )
    render(<App />)
    await screen.findByRole('heading', { level: 2, name: 'Demo portfolio' })

    await user.click(screen.getByRole('button', { name: 'Retirement' }))

    expect(await screen.findByRole('heading', { level: 2, name: 'Retirement' })).toBeInTheDocument()
    expect(screen.getByRole('rowheader', { name: 'VWRL' })).toBeInTheDocument()
    expect(screen.queryByRole('rowheader', { name: 'AAPL' })).not.toBeInTheDocument()
    expect(totalsRow()).toHaveTextContent('9,000.00')
    expect(screen.getByRole('button', { name: 'Retirement' })).toHaveAttribute('aria-current', 'true')
  })

  it('reloads the holdings and totals after a holding is added', async () => {
    const user = userEvent.setup()
    const afterCreate = {
      ...demoDetail,
      holdings: [...demoDetail.holdings, { id: 12, symbol: 'IBM', quantity: '2.0000', cost_basis: '300.0000' }],
      total_cost_basis: '3000.5000',
      holding_count: 3,
    }
    const details = [demoDetail, afterCreate]
    fetchMock.mockImplementation(
      routeFetch({
        'GET /api/portfolios/': jsonResponse(200, portfolios),
        'GET /api/portfolios/1/': () => jsonResponse(200, details.length > 1 ? details.shift() : details[0]),
        'POST /api/holdings/': jsonResponse(201, { id: 12, portfolio: 1, symbol: 'IBM' }),
      }),
    )
    render(<App />)
    await screen.findByRole('rowheader', { name: 'AAPL' })

    await user.type(screen.getByLabelText('Symbol'), 'IBM')
    await user.type(screen.getByLabelText('Quantity'), '2')
    await user.type(screen.getByLabelText('Cost basis'), '300')
    await user.click(screen.getByRole('button', { name: 'Add holding' }))

    expect(await screen.findByRole('rowheader', { name: 'IBM' })).toBeInTheDocument()
    expect(totalsRow()).toHaveTextContent('3 holdings')
    expect(totalsRow()).toHaveTextContent('3,000.50')
  })

  it('says when there are no portfolios', async () => {
    fetchMock.mockImplementation(routeFetch({ 'GET /api/portfolios/': jsonResponse(200, []) }))
    render(<App />)

    expect(await screen.findByText(/No portfolios yet/)).toBeInTheDocument()
    expect(screen.queryByRole('navigation')).not.toBeInTheDocument()
  })

  it('shows why the portfolios could not be loaded', async () => {
    fetchMock.mockImplementation(
      routeFetch({
        'GET /api/portfolios/': jsonResponse(403, {
          detail: 'Authentication credentials were not provided.',
        }),
      }),
    )
    render(<App />)

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Could not load the portfolios: Authentication credentials were not provided.',
    )
  })
})
