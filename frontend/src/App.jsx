import { useEffect, useState } from 'react'
import { listPortfolios } from './api.js'
import PortfolioList from './components/PortfolioList.jsx'
import PortfolioView from './components/PortfolioView.jsx'
import './App.css'

export default function App() {
  const [portfolios, setPortfolios] = useState(null)
  const [loadError, setLoadError] = useState(null)
  const [chosenId, setChosenId] = useState(null)

  useEffect(() => {
    let active = true
    listPortfolios().then(
      (list) => active && setPortfolios(list),
      (error) => active && setLoadError(error.message),
    )
    return () => {
      active = false
    }
  }, [])

  // The first portfolio is shown until the user picks another one.
  const selectedId = chosenId ?? portfolios?.[0]?.id ?? null

  return (
    <>
      <header className="app-header">
        <h1>onebox portfolios</h1>
      </header>
      <main className="app-main">
        {loadError && (
          <p role="alert" className="message message-error">
            Could not load the portfolios: {loadError}
          </p>
        )}
        {!loadError && portfolios === null && <p role="status">Loading portfolios…</p>}
        {portfolios?.length === 0 && <p>No portfolios yet. Create one in the admin.</p>}
        {portfolios?.length > 0 && (
          <div className="app-columns">
            <PortfolioList
              portfolios={portfolios}
              selectedId={selectedId}
              onSelect={setChosenId}
            />
            {/* The key gives each portfolio a fresh view, so no stale data shows while loading. */}
            <PortfolioView key={selectedId} portfolioId={selectedId} />
          </div>
        )}
      </main>
    </>
  )
}
