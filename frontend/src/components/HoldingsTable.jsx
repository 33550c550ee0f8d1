import { formatMoney, formatQuantity } from '../decimalFormat.js'

function holdingCountText(count) {
  return count === 1 ? '1 holding' : `${count} holdings`
}

export default function HoldingsTable({ holdings, totalCostBasis, holdingCount }) {
  return (
    <table className="holdings-table">
      <caption>Holdings</caption>
      <thead>
        <tr>
          <th scope="col">Symbol</th>
          <th scope="col" className="numeric">
            Quantity
          </th>
          <th scope="col" className="numeric">
            Cost basis
          </th>
        </tr>
      </thead>
      <tbody>
        {holdings.length === 0 ? (
          <tr>
            <td colSpan={3}>No holdings yet.</td>
          </tr>
        ) : (
          holdings.map((holding) => (
            <tr key={holding.id}>
              <th scope="row">{holding.symbol}</th>
              <td className="numeric">{formatQuantity(holding.quantity)}</td>
              <td className="numeric">{formatMoney(holding.cost_basis)}</td>
            </tr>
          ))
        )}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">Total</th>
          <td className="numeric">{holdingCountText(holdingCount)}</td>
          <td className="numeric">{formatMoney(totalCostBasis)}</td>
        </tr>
      </tfoot>
    </table>
  )
}
