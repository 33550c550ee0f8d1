import { useEffect, useId, useRef, useState } from 'react'
import { getImport, importHoldingsCsv } from '../api.js'

// How often the import is asked about while the worker has it, and for how long.
const POLL_INTERVAL_MS = 1000
const POLL_TIMEOUT_MS = 10 * 60 * 1000

const PROGRESS_TEXT = { queued: 'Import queued…', running: 'Importing…' }

function importedText(count) {
  return count === 1 ? 'Imported 1 holding.' : `Imported ${count} holdings.`
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export default function CsvImportForm({ portfolioId, onImported }) {
  const idPrefix = useId()
  const [error, setError] = useState(null)
  const [result, setResult] = useState(null)
  const [uploading, setUploading] = useState(false)
  // False once the form is gone: a poll still under way then stops and sets nothing.
  const mounted = useRef(true)

  useEffect(() => {
    mounted.current = true
    return () => {
      mounted.current = false
    }
  }, [])

  // Follows the queued import until the worker is done with it; resolves to its final record.
  const followImport = async (record, url) => {
    const deadline = Date.now() + POLL_TIMEOUT_MS
    let current = record
    while (current.status !== 'done' && current.status !== 'failed') {
      setResult(PROGRESS_TEXT[current.status] ?? PROGRESS_TEXT.queued)
      if (Date.now() >= deadline) {
        throw new Error('The import has not finished after 10 minutes; reload the page later to see it.')
      }
      await sleep(POLL_INTERVAL_MS)
      if (!mounted.current) return null
      try {
        current = await getImport(url)
      } catch (pollError) {
        // A client error will not go away by asking again; anything else (a restart) may.
        if (pollError.status >= 400 && pollError.status < 500) throw pollError
        if (Date.now() >= deadline) throw pollError
      }
      if (!mounted.current) return null
    }
    return current
  }

  const handleSubmit = async (event) => {
    event.preventDefault()
    const fileInput = event.currentTarget.elements.namedItem('file')
    const file = fileInput.files?.[0]
    setError(null)
    setResult(null)
    if (!file) {
      setError('Choose a CSV file first.')
      return
    }
    setUploading(true)
    try {
      const queued = await importHoldingsCsv(portfolioId, file)
      // Cleared so the same file is not imported twice by a second click.
      fileInput.value = ''
      const record = await followImport(queued, queued.url)
      if (!record) return
      if (record.status === 'failed') {
        setResult(null)
        setError(record.error || 'The import failed.')
        return
      }
      setResult(importedText(record.rows ?? 0))
      onImported?.(record)
    } catch (uploadError) {
      if (!mounted.current) return
      setResult(null)
      setError(uploadError.message)
    } finally {
      if (mounted.current) setUploading(false)
    }
  }

  const inputId = `${idPrefix}-file`
  return (
    <form className="csv-import-form" aria-labelledby={`${idPrefix}-heading`} onSubmit={handleSubmit} noValidate>
      <h3 id={`${idPrefix}-heading`}>Import holdings from CSV</h3>
      <p className="hint" id={`${idPrefix}-hint`}>
        Header row: <code>symbol,quantity,cost_basis</code>
      </p>
      {error && (
        <p role="alert" className="message message-error">
          {error}
        </p>
      )}
      {/* Always present, so screen readers announce the text when it appears. */}
      <p role="status" className="message message-success">
        {result}
      </p>
      <div className="field">
        <label htmlFor={inputId}>CSV file</label>
        <input
          id={inputId}
          name="file"
          type="file"
          accept=".csv,text/csv"
          required
          aria-describedby={`${idPrefix}-hint`}
        />
      </div>
      <button type="submit" disabled={uploading}>
        Upload
      </button>
    </form>
  )
}
