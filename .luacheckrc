-- Prosody's module environment, as in Prosody's own .luacheckrc.
std = "lua54"
max_line_length = 150
files["lua/"] = {
	globals = { "module" },
	read_globals = { "prosody", "hosts" },
}
files["spec/"] = {
	std = "+busted",
}
files["spec/e2e/plugins/"] = {
	globals = { "module" },
	read_globals = { "prosody", "hosts" },
}
files["bench/ir/plugins/"] = {
	globals = { "module" },
	read_globals = { "prosody", "hosts" },
}
