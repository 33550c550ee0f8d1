import { useId } from 'react'

export default function PortfolioList({ portfolios, selectedId, onSelect }) {
  const headingId = useId()
  return (
    <nav className="portfolio-list" aria-labelledby={headingId}>
      <h2 id={headingId}>Portfolios</h2>
      <ul>
        {portfolios.map((portfolio) => (
          <li key={portfolio.id}>
            <button
              type="button"
              aria-current={portfolio.id === selectedId ? 'true' : undefined}
              onClick={() => onSelect(portfolio.id)}
            >
              {portfolio.name}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  )
}
