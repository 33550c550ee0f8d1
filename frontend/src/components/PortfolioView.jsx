import { useEffect, useId, useState } from 'react'
import { getPortfolio } from '../api.js'
import CsvImportForm from './CsvImportForm.jsx'
import HoldingForm from './HoldingForm.jsx'
import HoldingsTable from './HoldingsTable.jsx'

export default function PortfolioView({ portfolioId }) {
  const headingId = useId()
  const [portfolio, setPortfolio] = useState(null)
  const [loadError, setLoadError] = useState(null)
  // Bumped after a change so the holdings and totals come fresh from the API.
  const [revision, setRevision] = useState(0)

  useEffect(() => {
    let active = true
    getPortfolio(portfolioId).then(
      (data) => {
        if (!active) return
        setPortfolio(data)
        setLoadError(null)
      },
      (error) => active && setLoadError(error.message),
    )
    return () => {
      active = false
    }
  }, [portfolioId, revision])

  const reload = () => setRevision((current) => current + 1)

  if (portfolio === null) {
    return loadError ? (
      <p role="alert" className="message message-error">
        Could not load the portfolio: {loadError}
      </p>
    ) : (
      <p role="status">Loading portfolio…</p>
    )
  }

  return (
    <section className="portfolio-view" aria-labelledby={headingId}>
      <h2 id={headingId}>{portfolio.name}</h2>
      {loadError && (
        <p role="alert" className="message message-error">
          Could not refresh the portfolio: {loadError}
        </p>
      )}
      <HoldingsTable
        holdings={portfolio.holdings ?? []}
        totalCostBasis={portfolio.total_cost_basis}
        holdingCount={portfolio.holding_count ?? portfolio.holdings?.length ?? 0}
      />
      <div className="portfolio-forms">
        <HoldingForm portfolioId={portfolio.id} onCreated={reload} />
        <CsvImportForm portfolioId={portfolio.id} onImported={reload} />
      </div>
    </section>
  )
}
