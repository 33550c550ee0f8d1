import { render, screen, within } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import HoldingsTable from './HoldingsTable.jsx'

const holdings = [
  { id: 1, symbol: 'AAPL', quantity: '10.0000', cost_basis: '1500.2500', portfolio: 1 },
  { id: 2, symbol: 'VWRL', quantity: '0.5000', cost_basis: '45.0000', note: 'extra field' },
]

function rowFor(headerText) {
  return screen.getByRole('rowheader', { name: headerText }).closest('tr')
}

describe('HoldingsTable', () => {
  it('shows each holding with formatted quantity and cost basis', () => {
    render(<HoldingsTable holdings={holdings} totalCostBasis="1545.2500" holdingCount={2} />)

    const table = screen.getByRole('table', { name: 'Holdings' })
    expect(within(table).getAllByRole('row')).toHaveLength(4)
    expect(within(rowFor('AAPL')).getAllByRole('cell').map((cell) => cell.textContent)).toEqual([
      '10',
      '1,500.25',
    ])
    expect(within(rowFor('VWRL')).getAllByRole('cell').map((cell) => cell.textContent)).toEqual([
      '0.5',
      '45.00',
    ])
  })

  it('shows the totals the API computed', () => {
    render(<HoldingsTable holdings={holdings} totalCostBasis="1545.2500" holdingCount={2} />)

    expect(within(rowFor('Total')).getAllByRole('cell').map((cell) => cell.textContent)).toEqual([
      '2 holdings',
      '1,545.25',
    ])
  })

  it('says so when the portfolio is empty', () => {
    render(<HoldingsTable holdings={[]} totalCostBasis="0.0000" holdingCount={0} />)

    expect(screen.getByText('No holdings yet.')).toBeInTheDocument()
    expect(within(rowFor('Total')).getAllByRole('cell').map((cell) => cell.textContent)).toEqual([
      '0 holdings',
      '0.00',
    ])
  })

  it('uses the singular for one holding', () => {
    render(<HoldingsTable holdings={holdings.slice(0, 1)} totalCostBasis="1500.2500" holdingCount={1} />)
    expect(within(rowFor('Total')).getByText('1 holding')).toBeInTheDocument()
  })
})
