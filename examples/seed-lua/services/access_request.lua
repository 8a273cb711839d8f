-- "Mapping webhook data to your models": map the payload to the internal model, then hand it
-- to a processing service that can be tested on its own.

service("webhooks.access-request.receive", function(req, ctx)
    -- Get raw webhook data; a missing or mistyped field is a 422 that names it
    local data = req:payload_as { "issueKey:string", "email:string", "companyName:string", "requestType:string" }

    -- Map to internal model
    local request = {
        issue_key = data.issueKey,
        email = data.email,
        company_name = data.companyName,
        request_type = data.requestType,
    }

    -- Pass to processing service
    ctx:invoke("access.request.process", request)
end)

-- The processing service the page delegates to.
service("access.request.process", function(req, ctx)
    local access = req:payload_as { "issue_key:string", "email:string", "company_name:string", "request_type:string" }
    log.info("Processing %s access request %s for %s at %s",
        access.request_type, access.issue_key, access.email, access.company_name)
end)
