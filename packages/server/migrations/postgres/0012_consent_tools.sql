-- A consent may also name the tools an agent may call for the person
-- (`server/tool`, or `server/*` for every tool of a server). NULL: any tool
-- the agent and the person may both call.
ALTER TABLE consents ADD COLUMN tools TEXT;
