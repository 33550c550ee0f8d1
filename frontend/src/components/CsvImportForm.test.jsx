import { act, render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../testResponses.js'
import CsvImportForm from './CsvImportForm.jsx'

let fetchMock

beforeEach(() => {
  fetchMock = vi.fn()
  vi.stubGlobal('fetch', fetchMock)
  // The clock the form polls with. It also runs on with real time, so that the zero-delay
  // timeouts of user-event and Testing Library fire; tests move it on by whole seconds.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], shouldAdvanceTime: true })
})

afterEach(() => {
  vi.useRealTimers()
})

function setupUser() {
  return userEvent.setup({ advanceTimers: vi.advanceTimersByTime })
}

// Lets the form's next poll happen (it asks once a second) and the page update.
async function wait(ms) {
  await act(() => vi.advanceTimersByTimeAsync(ms))
}

const QUEUED = { id: 5, status: 'queued', url: '/api/imports/5/' }

function importRecord(fields) {
  return { id: 5, portfolio: 7, rows: 0, error: '', attempts: 1, file: null, ...fields }
}

function csvFile(text, name = 'holdings.csv') {
  return new File([text], name, { type: 'text/csv' })
}

describe('CsvImportForm', () => {
  it('uploads the chosen file, follows the queued import and shows how many holdings it imported', async () => {
    const user = setupUser()
    const onImported = vi.fn()
    const done = importRecord({ status: 'done', rows: 3, file: 'imports/holdings.csv' })
    fetchMock
      .mockResolvedValueOnce(jsonResponse(202, QUEUED))
      .mockResolvedValueOnce(jsonResponse(200, importRecord({ status: 'queued' })))
      .mockResolvedValueOnce(jsonResponse(200, importRecord({ status: 'running' })))
      .mockResolvedValueOnce(jsonResponse(200, done))
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByText('Import queued…')).toHaveRole('status')
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/portfolios/7/import/')
    expect(init.method).toBe('POST')
    expect(init.body.get('file').name).toBe('holdings.csv')
    expect(screen.getByLabelText('CSV file').files).toHaveLength(0)
    expect(screen.getByRole('button', { name: 'Upload' })).toBeDisabled()

    expect(fetchMock).toHaveBeenCalledTimes(1)
    await wait(1000)
    expect(fetchMock).toHaveBeenCalledTimes(2)
    expect(fetchMock.mock.calls[1][0]).toBe('/api/imports/5/')
    expect(fetchMock.mock.calls[1][1].method).toBe('GET')
    expect(screen.getByRole('status')).toHaveTextContent('Import queued…')
    expect(onImported).not.toHaveBeenCalled()

    await wait(1000)
    expect(screen.getByRole('status')).toHaveTextContent('Importing…')

    await wait(1000)
    expect(screen.getByRole('status')).toHaveTextContent('Imported 3 holdings.')
    expect(onImported).toHaveBeenCalledWith(done)
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Upload' })).toBeEnabled()
    await wait(5000)
    expect(fetchMock).toHaveBeenCalledTimes(4)
  })

  it('shows the error of an import that failed in the worker and reports no import', async () => {
    const user = setupUser()
    const onImported = vi.fn()
    const error = 'line 3: quantity: Must be greater than zero.'
    fetchMock
      .mockResolvedValueOnce(jsonResponse(202, QUEUED))
      .mockResolvedValueOnce(jsonResponse(200, importRecord({ status: 'failed', error })))
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\nX,-1,1\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByText('Import queued…')).toHaveRole('status')
    await wait(1000)

    expect(screen.getByRole('alert')).toHaveTextContent(error)
    expect(screen.getByRole('status')).toBeEmptyDOMElement()
    expect(onImported).not.toHaveBeenCalled()
    expect(screen.getByRole('button', { name: 'Upload' })).toBeEnabled()
  })

  it('shows an import finished already in the answer without asking again', async () => {
    const user = setupUser()
    const onImported = vi.fn()
    fetchMock.mockResolvedValueOnce(jsonResponse(202, { ...QUEUED, status: 'done', rows: 2 }))
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByText('Imported 2 holdings.')).toHaveRole('status')
    await wait(3000)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(onImported).toHaveBeenCalledTimes(1)
  })

  it('keeps asking through a failed poll, and gives up after 10 minutes', async () => {
    const user = setupUser()
    fetchMock
      .mockResolvedValueOnce(jsonResponse(202, QUEUED))
      .mockResolvedValueOnce(jsonResponse(502, { detail: 'Bad gateway' }))
      .mockImplementation(async () => jsonResponse(200, importRecord({ status: 'queued' })))
    render(<CsvImportForm portfolioId={7} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByText('Import queued…')).toHaveRole('status')
    await wait(2000)
    expect(fetchMock).toHaveBeenCalledTimes(3)
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()

    await wait(10 * 60 * 1000)

    expect(screen.getByRole('alert')).toHaveTextContent('has not finished after 10 minutes')
    expect(screen.getByRole('status')).toBeEmptyDOMElement()
  })

  it('shows the message of an API rejection and reports no import', async () => {
    const user = setupUser()
    const onImported = vi.fn()
    fetchMock.mockResolvedValue(
      jsonResponse(400, { detail: 'line 2: expected 3 fields (symbol,quantity,cost_basis), found 2.' }),
    )
    render(<CsvImportForm portfolioId={7} onImported={onImported} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\nX,1,abc\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'line 2: expected 3 fields (symbol,quantity,cost_basis), found 2.',
    )
    expect(screen.getByRole('status')).toBeEmptyDOMElement()
    expect(onImported).not.toHaveBeenCalled()
    await wait(3000)
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('uses the singular for one imported holding', async () => {
    const user = setupUser()
    fetchMock
      .mockResolvedValueOnce(jsonResponse(202, QUEUED))
      .mockResolvedValueOnce(jsonResponse(200, importRecord({ status: 'done', rows: 1 })))
    render(<CsvImportForm portfolioId={7} />)

    await user.upload(screen.getByLabelText('CSV file'), csvFile('symbol,quantity,cost_basis\n'))
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    await screen.findByText('Import queued…')
    await wait(1000)

    expect(screen.getByText('Imported 1 holding.')).toHaveRole('status')
  })

  it('asks for a file instead of posting nothing', async () => {
    const user = setupUser()
    render(<CsvImportForm portfolioId={7} />)

    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(screen.getByRole('alert')).toHaveTextContent('Choose a CSV file first.')
    expect(fetchMock).not.toHaveBeenCalled()
  })
})
