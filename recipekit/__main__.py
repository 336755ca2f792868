from recipekit.cli import main

main(prog_name="recipekit")
