/** Stylesheets imported for their effect: Bun's HTML bundler puts them in the page. */
declare module "*.css";
