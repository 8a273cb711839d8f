-- "Verifying webhook signatures": check X-Salesforce-Signature, an HMAC-SHA256 (hex) of the
-- raw body, inside the service, as the page does.

-- Constant-time comparison of the hex HMAC-SHA256 of the exact bytes received.
local function verify_signature(payload, signature, secret)
    return inlet.hmac_verify("sha256", "hex", secret, payload, signature)
end

local function process_salesforce_event(event)
    log.info("Processing Salesforce event: %s", event.type or "None")
end

service("webhooks.salesforce.receive", function(req, ctx)
    -- Get the signature from headers
    local signature = req.headers["X-Salesforce-Signature"] or ""

    -- Get raw request body for verification
    local raw_body = req.body

    -- Your webhook secret from Salesforce
    local secret = ctx.config.salesforce and ctx.config.salesforce.webhook_secret
    if type(secret) ~= "string" then
        error(inlet.permanent("config value `salesforce.webhook_secret` is not set"))
    end

    -- Verify signature
    if not verify_signature(raw_body, signature, secret) then
        return inlet.response(401, { error = "Invalid signature" })
    end

    -- Signature valid, process the event
    process_salesforce_event(req.payload or {})
end)
