"""Metric definitions (shared/METRICS.md) shown as tooltips wherever a number appears."""

DEFINITIONS = {
    "total_aum": "Capital the fund manages: net contributions (deposits - withdrawals) of all accounts.",
    "total_equity": "Sum of account equities (cash + market value of positions) at the latest snapshot.",
    "total_pnl": "Total equity - total AUM; % of AUM.",
    "margin_utilization": "Margin used / margin available, summed over accounts.",
    "number_of_strategies": "Strategies with status ACTIVE.",
    "open_positions": "Positions currently open across all strategies.",
    "max_drawdown": "Largest fall of fund equity from a running peak over the range, in %.",
    "var_95": "1-day historical VaR 95: -5th percentile of daily returns x latest equity.",
    "var_95_parametric": "1-day Gaussian VaR 95: -(mean + z0.05 x std) of daily returns x latest equity.",
    "cvar_95": "Expected shortfall: mean loss on days at or below the 5th percentile x latest equity.",
    "portfolio_beta": "cov(fund, benchmark) / var(benchmark) of daily returns on common days.",
    "volatility": "Annualised standard deviation of daily returns.",
    "sharpe_ratio": "Annualised mean / std of daily excess returns.",
    "sortino_ratio": "Annualised mean excess return / downside deviation.",
}
