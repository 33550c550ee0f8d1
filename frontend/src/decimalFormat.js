// The API sends decimals as strings ("1234.5000"). They are formatted as text,
// never through floating point, so what is shown is exactly what is stored.

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

export function formatDecimal(value, { minFractionDigits = 0 } = {}) {
  if (value === null || value === undefined || value === '') return '—'
  const text = String(value).trim()
  const match = DECIMAL.exec(text)
  if (!match || (match[2] === '' && !match[3])) return text

  const [, sign, rawInteger, rawFraction = ''] = match
  const integer = rawInteger.replace(/^0+(?=\d)/, '') || '0'
  const fraction = rawFraction.replace(/0+$/, '').padEnd(minFractionDigits, '0')
  const isZero = /^0*$/.test(integer + fraction)
  const shownSign = sign === '-' && !isZero ? '-' : ''
  return `${shownSign}${groupThousands(integer)}${fraction ? `.${fraction}` : ''}`
}

// Money keeps cents and any further digits that are not zero: "12.3400" -> "12.34".
export function formatMoney(value) {
  return formatDecimal(value, { minFractionDigits: 2 })
}

// Quantities drop padding zeros: "10.0000" -> "10", "0.5000" -> "0.5".
export function formatQuantity(value) {
  return formatDecimal(value)
}
