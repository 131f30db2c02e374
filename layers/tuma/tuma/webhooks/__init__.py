"""The webhooks function's routes, one module per caller: Daraja (`daraja`), the SMS provider
(`provider`), the business's own systems (`business`: payments, alerts, messages) and its privacy
requests (`privacy`). Each route declares its authentication and answers where it is declared
(tuma.runtime.routes) and calls one service; `context` builds those services once per container."""
