import { describe, expect, it } from 'vitest'
import { formatDecimal, formatMoney, formatQuantity } from './decimalFormat.js'

describe('formatMoney', () => {
  it.each([
    ['12.5000', '12.50'],
    ['1234567.8900', '1,234,567.89'],
    ['0.0000', '0.00'],
    ['100', '100.00'],
    ['12.3450', '12.345'],
    ['-1500.2500', '-1,500.25'],
    ['-0.0000', '0.00'],
    ['007.10', '7.10'],
  ])('formats %s as %s', (input, expected) => {
    expect(formatMoney(input)).toBe(expected)
  })

  it('keeps digits a float would lose', () => {
    expect(formatMoney('12345678901234567.0100')).toBe('12,345,678,901,234,567.01')
  })
})

describe('formatQuantity', () => {
  it.each([
    ['10.0000', '10'],
    ['0.5000', '0.5'],
    ['2500.1250', '2,500.125'],
    [3, '3'],
  ])('formats %s as %s', (input, expected) => {
    expect(formatQuantity(input)).toBe(expected)
  })
})

describe('formatDecimal', () => {
  it('shows a dash for a missing value', () => {
    expect(formatDecimal(null)).toBe('—')
    expect(formatDecimal(undefined)).toBe('—')
    expect(formatDecimal('')).toBe('—')
  })

  it('passes through text that is not a decimal', () => {
    expect(formatDecimal('n/a')).toBe('n/a')
    expect(formatDecimal('.')).toBe('.')
  })
})
