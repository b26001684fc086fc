// Structured JSON log lines on stdout (one object per line), filtered by LOG_LEVEL.
const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const;
export type Level = keyof typeof ORDER;

export function makeLogger(min: Level) {
  return (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < ORDER[min]) return;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}
export type Logger = ReturnType<typeof makeLogger>;
