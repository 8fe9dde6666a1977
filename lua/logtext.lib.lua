-- Client text in log lines: quoted and on one line, formatted only if the line is written (a
-- line whose level is filtered out costs nothing more).

local quoted_mt = { __tostring = function (self)
	return self.label .. (("%q"):format(self.text):gsub("\\\n", "\\n"));
end };

local logtext = {};

function logtext.quoted(text, label)
	return setmetatable({ text = text or ""; label = label or "" }, quoted_mt);
end

function logtext.reason(reason)
	return reason and logtext.quoted(reason, "reason ") or "no reason";
end

return logtext;
