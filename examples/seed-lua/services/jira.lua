-- "Basic webhook handler": log the Jira event and dispatch on its type.

local function handle_issue_created(issue_key)
    log.info("New issue created: %s", issue_key)
end

local function handle_issue_updated(issue_key)
    log.info("Issue updated: %s", issue_key)
end

service("webhooks.jira.receive", function(req, ctx)
    -- Access the incoming webhook data
    local event = req.payload or {}
    local event_type = event.webhookEvent

    -- Log what we received
    log.info("Received Jira event: %s", event_type or "None")

    -- Extract event data
    local issue_key = type(event.issue) == "table" and event.issue.key or "None"

    -- Process based on event type
    if event_type == "jira:issue_created" then
        handle_issue_created(issue_key)
    elseif event_type == "jira:issue_updated" then
        handle_issue_updated(issue_key)
    end
end)
