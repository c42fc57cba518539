-- patchwarden-agent %preun (Lua, see post.lua). arg[2] == 0: the package is being
-- erased (not upgraded): stop and disable the agent.
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

if tonumber(arg[2]) == 0 and posix.access(systemctl, "x") then
  if posix.stat("/run/systemd/system", "type") == "directory" then
    run(systemctl, "stop", unit)
  end
  run(systemctl, "--quiet", "disable", unit)
end
