-- patchwarden-agent %postun (Lua, see post.lua). Reload systemd; on upgrade
-- (arg[2] >= 1) restart the agent if it runs, without waiting (--no-block): this
-- scriptlet may run under the agent itself, in a job that upgrades the agent.
-- The state directory stays on erase (it holds the agent's identity); rpm removes it
-- only when empty.
local unit = "patchwarden-agent.service"
local systemctl = "/usr/bin/systemctl"

local function run(...)
  if rpm.execute then
    return rpm.execute(...)
  end
  local pid = posix.fork()
  if pid == 0 then
    posix.exec(...)
    posix._exit(127)
  elseif pid and pid > 0 then
    posix.wait(pid)
  end
end

if posix.access(systemctl, "x")
  and posix.stat("/run/systemd/system", "type") == "directory" then
  run(systemctl, "daemon-reload")
  if tonumber(arg[2]) >= 1 then
    run(systemctl, "--no-block", "try-restart", unit)
  end
end
