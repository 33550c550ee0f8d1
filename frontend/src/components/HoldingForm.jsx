import { useId, useState } from 'react'
import { createHolding } from '../api.js'

const EMPTY_VALUES = { symbol: '', quantity: '', cost_basis: '' }
const FIELDS = [
  { name: 'symbol', label: 'Symbol', inputMode: 'text', autoCapitalize: 'characters' },
  { name: 'quantity', label: 'Quantity', inputMode: 'decimal' },
  { name: 'cost_basis', label: 'Cost basis', inputMode: 'decimal' },
]

export default function HoldingForm({ portfolioId, onCreated }) {
  const idPrefix = useId()
  const [values, setValues] = useState(EMPTY_VALUES)
  const [fieldErrors, setFieldErrors] = useState({})
  const [formError, setFormError] = useState(null)
  const [addedSymbol, setAddedSymbol] = useState(null)
  const [submitting, setSubmitting] = useState(false)

  const handleChange = (event) => {
    const { name, value } = event.target
    setValues((current) => ({ ...current, [name]: value }))
  }

  const handleSubmit = async (event) => {
    event.preventDefault()
    setSubmitting(true)
    setFieldErrors({})
    setFormError(null)
    setAddedSymbol(null)
    try {
      // Decimals stay strings end to end; the API parses them exactly.
      const holding = await createHolding({
        portfolio: portfolioId,
        symbol: values.symbol.trim(),
        quantity: values.quantity.trim(),
        costBasis: values.cost_basis.trim(),
      })
      setValues(EMPTY_VALUES)
      setAddedSymbol(holding?.symbol ?? values.symbol.trim())
      onCreated?.(holding)
    } catch (error) {
      const shownAtFields = FIELDS.some(({ name }) => error.fieldErrors?.[name]?.length)
      const elsewhere = Object.keys(error.fieldErrors ?? {}).some(
        (name) => !FIELDS.some((field) => field.name === name),
      )
      setFieldErrors(error.fieldErrors ?? {})
      setFormError(
        shownAtFields && !elsewhere
          ? 'The holding was not added: correct the fields marked below.'
          : error.message,
      )
    } finally {
      setSubmitting(false)
    }
  }

  return (
    <form className="holding-form" aria-labelledby={`${idPrefix}-heading`} onSubmit={handleSubmit} noValidate>
      <h3 id={`${idPrefix}-heading`}>Add a holding</h3>
      {formError && (
        <p role="alert" className="message message-error">
          {formError}
        </p>
      )}
      {/* Always present, so screen readers announce the text when it appears. */}
      <p role="status" className="message message-success">
        {addedSymbol && `Added ${addedSymbol}.`}
      </p>
      {FIELDS.map(({ name, label, inputMode, autoCapitalize }) => {
        const inputId = `${idPrefix}-${name}`
        const errors = fieldErrors[name] ?? []
        return (
          <div className="field" key={name}>
            <label htmlFor={inputId}>{label}</label>
            <input
              id={inputId}
              name={name}
              type="text"
              inputMode={inputMode}
              autoCapitalize={autoCapitalize}
              autoComplete="off"
              required
              value={values[name]}
              onChange={handleChange}
              aria-invalid={errors.length > 0 ? 'true' : undefined}
              aria-describedby={errors.length > 0 ? `${inputId}-error` : undefined}
            />
            {errors.length > 0 && (
              <p id={`${inputId}-error`} className="field-error">
                {errors.join(' ')}
              </p>
            )}
          </div>
        )
      })}
      <button type="submit" disabled={submitting}>
        Add holding
      </button>
    </form>
  )
}
