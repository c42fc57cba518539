-- patchwarden-agent %post (rpm's embedded Lua: no /bin/sh needed, so it also runs
-- when rpm installs into an alternate root with --root, where it is chrooted into a
-- tree that may have no shell). arg[2] is the number of installed instances after
-- this transaction: 1 = first installation, 2 or more = upgrade.
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

if posix.access(systemctl, "x") then
  if tonumber(arg[2]) == 1 then
    -- First installation: enable for the next boot but do not start; the unit's
    -- ConditionPathExists keeps it idle until `patchwarden-agent enroll`.
    run(systemctl, "--quiet", "enable", unit)
  end
  if posix.stat("/run/systemd/system", "type") == "directory" then
    run(systemctl, "daemon-reload")
  end
end
