import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../testResponses.js'
import HoldingForm from './HoldingForm.jsx'

let fetchMock

beforeEach(() => {
  fetchMock = vi.fn()
  vi.stubGlobal('fetch', fetchMock)
})

async function fillAndSubmit(user, { symbol, quantity, costBasis }) {
  await user.type(screen.getByLabelText('Symbol'), symbol)
  await user.type(screen.getByLabelText('Quantity'), quantity)
  await user.type(screen.getByLabelText('Cost basis'), costBasis)
  await user.click(screen.getByRole('button', { name: 'Add holding' }))
}

describe('HoldingForm', () => {
  it('posts the holding to the API and clears the form', async () => {
    const user = userEvent.setup()
    const onCreated = vi.fn()
    const created = { id: 11, portfolio: 7, symbol: 'MSFT', quantity: '5.0000', cost_basis: '1234.5000' }
    fetchMock.mockResolvedValue(jsonResponse(201, created))
    render(<HoldingForm portfolioId={7} onCreated={onCreated} />)

    await fillAndSubmit(user, { symbol: ' MSFT ', quantity: '5', costBasis: '1234.50' })

    expect(await screen.findByText('Added MSFT.')).toBeInTheDocument()
    expect(fetchMock).toHaveBeenCalledTimes(1)
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/holdings/')
    expect(init.method).toBe('POST')
    expect(JSON.parse(init.body)).toEqual({
      portfolio: 7,
      symbol: 'MSFT',
      quantity: '5',
      cost_basis: '1234.50',
    })
    expect(onCreated).toHaveBeenCalledWith(created)
    expect(screen.getByLabelText('Symbol')).toHaveValue('')
    expect(screen.getByLabelText('Quantity')).toHaveValue('')
    expect(screen.getByLabelText('Cost basis')).toHaveValue('')
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
  })

  it('shows the API validation errors beside the fields and keeps the input', async () => {
    const user = userEvent.setup()
    const onCreated = vi.fn()
    fetchMock.mockResolvedValue(
      jsonResponse(400, {
        quantity: ['A valid number is required.'],
        cost_basis: ['Ensure that there are no more than 18 digits in total.'],
      }),
    )
    render(<HoldingForm portfolioId={7} onCreated={onCreated} />)

    await fillAndSubmit(user, { symbol: 'MSFT', quantity: 'ten', costBasis: '1' })

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The holding was not added: correct the fields marked below.',
    )
    const quantity = screen.getByLabelText('Quantity')
    expect(quantity).toHaveAttribute('aria-invalid', 'true')
    expect(quantity).toHaveAccessibleDescription('A valid number is required.')
    expect(quantity).toHaveValue('ten')
    expect(screen.getByLabelText('Cost basis')).toHaveAccessibleDescription(
      'Ensure that there are no more than 18 digits in total.',
    )
    expect(screen.getByLabelText('Symbol')).not.toHaveAttribute('aria-invalid')
    expect(onCreated).not.toHaveBeenCalled()
    expect(screen.queryByText(/^Added/)).not.toBeInTheDocument()
  })

  it('shows errors that belong to no input as the form message', async () => {
    const user = userEvent.setup()
    fetchMock.mockResolvedValue(
      jsonResponse(400, { non_field_errors: ['This portfolio already holds MSFT.'] }),
    )
    render(<HoldingForm portfolioId={7} />)

    await fillAndSubmit(user, { symbol: 'MSFT', quantity: '1', costBasis: '1' })

    expect(await screen.findByRole('alert')).toHaveTextContent('This portfolio already holds MSFT.')
  })

  it('clears the previous errors when the next attempt succeeds', async () => {
    const user = userEvent.setup()
    fetchMock
      .mockResolvedValueOnce(jsonResponse(400, { symbol: ['This field may not be blank.'] }))
      .mockResolvedValueOnce(jsonResponse(201, { id: 1, symbol: 'IBM' }))
    render(<HoldingForm portfolioId={7} />)

    await user.click(screen.getByRole('button', { name: 'Add holding' }))
    expect(await screen.findByText('This field may not be blank.')).toBeInTheDocument()

    await fillAndSubmit(user, { symbol: 'IBM', quantity: '1', costBasis: '100' })

    expect(await screen.findByText('Added IBM.')).toBeInTheDocument()
    expect(screen.queryByText('This field may not be blank.')).not.toBeInTheDocument()
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
  })
})
