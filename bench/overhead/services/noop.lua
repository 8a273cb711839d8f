-- The smallest Lua service: the fixed cost of a Lua call.
service("lua.noop", function() end)
