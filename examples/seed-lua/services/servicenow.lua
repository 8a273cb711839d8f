-- "Responding to webhooks": answer at once, and process in the background.

service("webhooks.servicenow.receive", function(req, ctx)
    local event = req.payload or {}

    -- Run in background instead of blocking
    ctx:invoke_async("servicenow.incident.process", {
        event_type = event.event_type,
        payload = event,
    })

    -- Return immediately
    return { status = "received" }
end)

-- The background half: the heavy processing of one incident.
service("servicenow.incident.process", function(req, ctx)
    local job = req.payload
    local incident = type(job.payload) == "table" and job.payload.incident or nil
    local number = type(incident) == "table" and incident.number or "(no number)"
    log.info("Processing ServiceNow incident %s (%s)", number, job.event_type or "(no type)")
end)
