"""The paper's theory, executable: closed forms, the autoregressive linear model, Algorithm 3 and STaR on it."""
