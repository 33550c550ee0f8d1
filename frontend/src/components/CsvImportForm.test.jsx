import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../testResponses.js'
import CsvImportForm from './CsvImportForm.jsx'

let fetchMock

beforeEach(() => {
  fetchMock = vi.fn()
  vi.stubGlobal('fetch', fetchMock)
})

function csvFile(text, name = 'holdings.csv') {
  return new File([text], name, { type: 'text/csv' })
}

describe('CsvImportForm', () => {
  it('uploads the chosen file and shows how many holdings were imported', async () => {
    const user = userEvent.setup()
    const onImported = vi.fn()
    fetchMock.mockResolvedValue(jsonResponse(201, { imported: 3, file: 'imports/holdings.csv' }))
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByText('Imported 3 holdings.')).toHaveRole('status')
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/portfolios/7/import/')
    expect(init.method).toBe('POST')
    expect(init.body.get('file').name).toBe('holdings.csv')
    expect(onImported).toHaveBeenCalledWith({ imported: 3, file: 'imports/holdings.csv' })
    expect(screen.getByLabelText('CSV file').files).toHaveLength(0)
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
  })

  it('shows the message of an API rejection and reports no import', async () => {
    const user = userEvent.setup()
    const onImported = vi.fn()
    fetchMock.mockResolvedValue(
      jsonResponse(400, { detail: 'Row 2: cost_basis "abc" is not a number; nothing was imported.' }),
    )
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\nX,1,abc\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Row 2: cost_basis "abc" is not a number; nothing was imported.',
    )
    expect(screen.getByRole('status')).toBeEmptyDOMElement()
    expect(onImported).not.toHaveBeenCalled()
  })

  it('uses the singular for one imported holding', async () => {
    const user = userEvent.setup()
    fetchMock.mockResolvedValue(jsonResponse(201, { imported: 1, file: 'imports/one.csv' }))
    render(<CsvImportForm portfolioId={7} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByText('Imported 1 holding.')).toHaveRole('status')
  })

  it('asks for a file instead of posting nothing', async () => {
    const user = userEvent.setup()
    render(<CsvImportForm portfolioId={7} />)

    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(screen.getByRole('alert')).toHaveTextContent('Choose a CSV file first.')
    expect(fetchMock).not.toHaveBeenCalled()
  })
})
