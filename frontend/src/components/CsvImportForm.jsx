import { useId, useState } from 'react'
import { importHoldingsCsv } from '../api.js'

function importedText(count) {
  return count === 1 ? 'Imported 1 holding.' : `Imported ${count} holdings.`
}

export default function CsvImportForm({ portfolioId, onImported }) {
  const idPrefix = useId()
  const [error, setError] = useState(null)
  const [result, setResult] = useState(null)
  const [uploading, setUploading] = useState(false)

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
      const response = await importHoldingsCsv(portfolioId, file)
      setResult(importedText(response?.imported ?? 0))
      // Cleared so the same file is not imported twice by a second click.
      fileInput.value = ''
      onImported?.(response)
    } catch (uploadError) {
      setError(uploadError.message)
    } finally {
      setUploading(false)
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
