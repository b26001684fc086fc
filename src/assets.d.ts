// Types for files embedded with `import ... with { type: "text" | "file" }`.
declare module "*.html" {
  const content: string;
  export default content;
}
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*.js" {
  const path: string;
  export default path;
}
declare module "*.svg" {
  const path: string;
  export default path;
}
